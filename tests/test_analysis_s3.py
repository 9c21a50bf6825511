"""Reports and compaction on an S3 lake over real HTTP on loopback: moto's server (found through
boto3's AWS_ENDPOINT_URL) and a real S3 server, SeaweedFS (through AWS_ENDPOINT_URL_S3)."""

import json
from pathlib import Path

import boto3
import pytest

from analysis import compact, duck, lake_files, reports
from analysis.__main__ import main
from tests.lakegen import generate
from tests.motoserver import FAKE_AWS_ENV, point_boto3_at, running_moto

FIRST, LAST = "2026-11-20", "2026-11-21"
BUCKET = "logdig-analysis-test"
CASES = {"traffic": {"bucket": "hour"}, "pages": {}, "referrers": {}, "sessions": {},
         "conversions": {}, "heatmap": {"page": "https://shop.example.com/cart"},
         "funnel": {"steps": "/products,/cart"}}

pytestmark = pytest.mark.wire


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("s3src")
    generate(root, events=1500, seed=5, start=FIRST, days=2, max_object_bytes=128 * 1024)
    return root


def upload(s3, local_lake: Path) -> None:
    s3.create_bucket(Bucket=BUCKET)
    for path in sorted(local_lake.rglob("*.jsonl.gz")):
        key = "site/" + path.relative_to(local_lake).as_posix()
        s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())


@pytest.fixture
def s3_lake(local_lake, monkeypatch):
    """moto's server, found through AWS_ENDPOINT_URL."""
    with running_moto() as server:
        point_boto3_at(monkeypatch, server)
        s3 = boto3.client("s3")
        upload(s3, local_lake)
        yield s3


@pytest.fixture
def seaweed_lake(seaweed, local_lake, monkeypatch):
    """A real S3 server (SeaweedFS), found through the per-service AWS_ENDPOINT_URL_S3."""
    for name, value in {**FAKE_AWS_ENV, "AWS_ENDPOINT_URL_S3": seaweed.endpoint}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    s3 = boto3.client("s3")
    upload(s3, local_lake)
    yield s3
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=BUCKET, Key=item["Key"])
    s3.delete_bucket(Bucket=BUCKET)


def answers(lake):
    found = {}
    for name, extra in CASES.items():
        opts = reports.options(name, {"from": FIRST, "to": LAST, **extra})
        found[name] = duck.run(name, opts, lake)
    return found


def same_answers_before_and_after_compaction(local_lake: Path, s3) -> None:
    local = answers(lake_files.open_lake(local_lake.as_uri(), "events/"))
    lake = lake_files.open_lake(f"s3://{BUCKET}/site", "events/")

    assert answers(lake) == local

    summaries = [compact.compact_day(lake, dt) for dt in lake_files.dates(FIRST, LAST)]
    head = s3.head_object(Bucket=BUCKET, Key=f"site/parquet/dt={FIRST}/events.parquet")
    assert head["ContentType"] == "application/vnd.apache.parquet"
    assert [s["key"] for s in summaries] == [f"parquet/dt={d}/events.parquet"
                                             for d in (FIRST, LAST)]
    assert answers(lake) == local


def test_s3_lake_gives_the_local_answers_before_and_after_compaction(local_lake, s3_lake):
    same_answers_before_and_after_compaction(local_lake, s3_lake)


@pytest.mark.slow
def test_a_real_s3_server_gives_the_local_answers_too(local_lake, seaweed_lake):
    same_answers_before_and_after_compaction(local_lake, seaweed_lake)


def test_cli_reads_s3_through_the_standard_endpoint_setting(s3_lake, capsys, tmp_path):
    main(["report", "sessions", "--from", FIRST, "--to", LAST, "--lake", f"s3://{BUCKET}/site/",
          "--format", "json"])
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 1 and rows[0]["sessions"] > 50

    # A date range lists only its own day folders.
    lake = lake_files.open_lake(f"s3://{BUCKET}/site/", "events/")
    days = lake_files.plan(lake, LAST, LAST, Path(tmp_path))
    assert [d.dt for d in days] == [LAST]
    assert all(key.startswith(f"events/dt={LAST}/") for key in days[0].ndjson)


def test_s3_url_without_bucket_is_rejected():
    with pytest.raises(lake_files.LakeError, match="names no bucket"):
        lake_files.open_lake("s3:///events", "events/")


def test_missing_bucket_is_one_error_line_naming_it(s3_lake, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["report", "pages", "--from", FIRST, "--to", FIRST, "--lake", "s3://no-such-bucket/"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("error: S3 list s3://no-such-bucket/events/dt=2026-11-20/: NoSuchBucket")
    assert len(err.strip().splitlines()) == 1
