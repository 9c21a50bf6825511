"""The daily compaction job: local mode's timer tick and the compaction Lambda's handler (on moto
S3), each compacting yesterday once; a second run changes nothing; reports read the Parquet."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import boto3

from analysis import daily, duck, lake_files, reports
from config import load_settings
from tests.lakegen import generate

FIRST, LAST = "2026-11-20", "2026-11-21"


def at(stamp: str):
    return lambda: datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


def traffic(lake) -> list:
    return duck.run("traffic", reports.options("traffic", {"from": FIRST, "to": LAST, "bucket": "day"}), lake)


def digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_local_timer_job_compacts_yesterday_once_a_day(tmp_path):
    settings = load_settings({"LOGDIG_DATA_DIR": str(tmp_path)})
    generate(settings.lake_dir, events=600, seed=4, start=FIRST, days=2)
    lake = lake_files.open_lake(None, None, settings)
    before = traffic(lake)
    clock = [at(f"{LAST}T00:05:00")]
    job = daily.LocalJob(settings, clock=lambda: clock[0]())

    first = job.tick()
    parquet = settings.lake_dir / f"parquet/dt={FIRST}/events.parquet"
    assert first["dt"] == FIRST and first["events"] > 0 and parquet.exists()
    assert job.tick() is None  # same day: the timer's next ticks do nothing
    assert traffic(lake) == before  # reports read the Parquet day and give the same answer

    made = digest(parquet)
    rerun = daily.run(lake, datetime.fromisoformat(LAST).date())
    assert rerun == {"dt": FIRST, "skipped": "already compacted"}
    assert digest(parquet) == made

    clock[0] = at("2026-11-22T00:01:00")
    assert job.tick()["dt"] == LAST


def test_local_timer_job_without_a_lake_skips_quietly(tmp_path):
    job = daily.LocalJob(load_settings({"LOGDIG_DATA_DIR": str(tmp_path / "none")}))
    assert job.tick() is None


def test_compaction_lambda_handler_compacts_the_scheduled_day_on_s3(mock_aws, monkeypatch, tmp_path):
    root = tmp_path / "lake"
    generate(root, events=400, seed=6, start=FIRST, days=1)
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="logdig-daily")
    s3.put_bucket_versioning(Bucket="logdig-daily", VersioningConfiguration={"Status": "Enabled"})
    for path in root.rglob("*.jsonl.gz"):
        s3.put_object(Bucket="logdig-daily", Key=path.relative_to(root).as_posix(), Body=path.read_bytes())
    monkeypatch.setenv("LOGDIG_BUCKET", "logdig-daily")
    monkeypatch.setenv("LOGDIG_AWS_REGION", "us-east-1")
    event = {"time": f"{LAST}T00:20:00Z", "detail-type": "Scheduled Event"}  # as EventBridge sends

    done = daily.lambda_handler(event, None)  # logging set up as Lambda would: conftest undoes it
    again = daily.lambda_handler(event, None)

    assert done["dt"] == FIRST and done["key"] == f"parquet/dt={FIRST}/events.parquet"
    assert again == {"dt": FIRST, "skipped": "already compacted"}
    versions = s3.list_object_versions(Bucket="logdig-daily", Prefix="parquet/")["Versions"]
    assert len(versions) == 1  # the rerun wrote nothing, not even the same bytes again
