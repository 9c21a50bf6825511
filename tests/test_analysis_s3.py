"""Reports and compaction on an S3 lake (moto's server on loopback, real HTTP through boto3),
found through boto3's standard endpoint setting AWS_ENDPOINT_URL."""

import json
from pathlib import Path

import boto3
import pytest

from analysis import compact, duck, lake_files, reports
from analysis.__main__ import main
from tests.lakegen import generate
from tests.motoserver import point_boto3_at, running_moto

FIRST, LAST = "2026-11-20", "2026-11-21"
BUCKET = "logdig-analysis-test"
CASES = {"traffic": {"bucket": "hour"}, "pages": {}, "referrers": {}, "sessions": {},
         "conversions": {}, "heatmap": {"page": "https://shop.example.com/cart"},
         "funnel": {"steps": "/products,/cart"}}


@pytest.fixture(scope="module")
def local_lake(tmp_path_factory):
    root = tmp_path_factory.mktemp("s3src")
    generate(root, events=1500, seed=5, start=FIRST, days=2, max_object_bytes=128 * 1024)
    return root


@pytest.fixture
def s3_lake(local_lake, monkeypatch):
    with running_moto() as server:
        point_boto3_at(monkeypatch, server)
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket=BUCKET)
        for path in sorted(local_lake.rglob("*.jsonl.gz")):
            key = "site/" + path.relative_to(local_lake).as_posix()
            s3.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
        yield s3


def answers(lake):
    found = {}
    for name, extra in CASES.items():
        opts = reports.options(name, {"from": FIRST, "to": LAST, **extra})
        found[name] = duck.run(name, opts, lake)
    return found


def test_s3_lake_gives_the_local_answers_before_and_after_compaction(local_lake, s3_lake):
    local = answers(lake_files.open_lake(local_lake.as_uri(), "events/"))
    lake = lake_files.open_lake(f"s3://{BUCKET}/site", "events/")

    assert answers(lake) == local

    summaries = [compact.compact_day(lake, dt) for dt in lake_files.dates(FIRST, LAST)]
    head = s3_lake.head_object(Bucket=BUCKET, Key=f"site/parquet/dt={FIRST}/events.parquet")
    assert head["ContentType"] == "application/vnd.apache.parquet"
    assert [s["key"] for s in summaries] == [f"parquet/dt={d}/events.parquet"
                                             for d in (FIRST, LAST)]
    assert answers(lake) == local


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
