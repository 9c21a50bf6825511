"""Erasure (`python -m analysis forget`): exactly one visitor's events go, from NDJSON, Parquet and
bad records, every other count stays; locally and on S3 with versioning on (moto in-process),
old versions included."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tempfile
from collections import Counter
from pathlib import Path

import boto3
import pytest

from analysis import compact, duck, lake_files, reports
from analysis.__main__ import main
from tests.events_factory import click
from tests.lakegen import generate, write_events

FIRST, LAST = "2026-11-20", "2026-11-21"
BAD_KEY = "bad/dt=2026-11-21/0f.json"


@pytest.fixture(scope="module")
def source_lake(tmp_path_factory) -> Path:
    """Two days of traffic, the first compacted (so Parquet holds it), and two bad records."""
    root = tmp_path_factory.mktemp("forget-src")
    generate(root, events=1200, seed=11, start=FIRST, days=2, max_object_bytes=64 * 1024)
    compact.compact_day(lake_files.open_lake(root.as_uri(), "events/"), FIRST)
    bad = root / BAD_KEY
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"reason": "x", "body": '{"user_key":"' + busiest(root) + '"'}))
    (bad.parent / "1a.json").write_text(json.dumps({"reason": "x", "body": "{broken"}))
    return root


def busiest(root: Path) -> str:
    """The visitor with the most events in the first NDJSON day (so several objects hold them)."""
    lines = [line for path in sorted((root / f"events/dt={FIRST}").glob("*.jsonl.gz"))
             for line in gzip.decompress(path.read_bytes()).splitlines()]
    return Counter(json.loads(line)["user_key"] for line in lines).most_common(1)[0][0]


@pytest.fixture
def local_lake(source_lake, tmp_path) -> Path:
    return Path(shutil.copytree(source_lake, tmp_path / "lake"))


def counts(lake: lake_files.LakeLocation) -> Counter:
    """Events per visitor as the reports read the lake (Parquet days plus NDJSON they lack)."""
    con = duck.connect()
    with tempfile.TemporaryDirectory() as tmp:
        days = lake_files.plan(lake, FIRST, LAST, Path(tmp))
        duck.create_view(con, *lake_files.local_files(lake, days, Path(tmp)))
        rows = con.execute("SELECT user_key, COUNT(*) FROM lake_events GROUP BY user_key").fetchall()
    return Counter(dict(rows))


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def forget(lake_url: str, *extra: str) -> None:
    main(["forget", "--lake", lake_url, "--events-prefix", "events/", *extra])


def test_forget_removes_exactly_one_visitor_locally(local_lake, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LOGDIG_DATA_DIR", str(tmp_path / "data"))
    lake = lake_files.open_lake(local_lake.as_uri(), "events/")
    visitor = busiest(local_lake)
    before = counts(lake)
    forget(local_lake.as_uri(), "--user-key", visitor, "--yes")
    out = capsys.readouterr().out
    removed = int(out.split("removed ", 1)[1].split(" ", 1)[0])
    after = counts(lake)
    assert after[visitor] == 0 and before[visitor] > 0
    assert after == Counter({k: v for k, v in before.items() if k != visitor})  # everyone else as before
    assert removed >= before[visitor]  # lines in the lake, duplicate deliveries included
    assert not (local_lake / BAD_KEY).exists() and (local_lake / "bad/dt=2026-11-21/1a.json").exists()
    for key in tree(local_lake):  # every object left is named by its content
        if key.endswith(".jsonl.gz"):
            assert hashlib.sha256((local_lake / key).read_bytes()).hexdigest() in key
    footer = lake_files.parquet_sources(local_lake / f"parquet/dt={FIRST}/events.parquet")
    assert sorted(footer) == sorted(p.name for p in (local_lake / f"events/dt={FIRST}").iterdir())


def test_dry_run_counts_and_changes_nothing(local_lake, capsys):
    visitor = busiest(local_lake)
    before = tree(local_lake)
    forget(str(local_lake), "--user-key", visitor, "--dry-run")
    out = capsys.readouterr().out
    assert "dry run: nothing was changed" in out
    assert "1 bad record(s) mentioning the visitor" in out
    assert "row(s) in 1 Parquet day(s)" in out
    assert tree(local_lake) == before


def test_an_unknown_visitor_is_named_and_nothing_changes(local_lake, capsys):
    before = tree(local_lake)
    with pytest.raises(SystemExit) as stopped:
        forget(str(local_lake), "--user-key", "Unobody0000000000000", "--yes")
    assert stopped.value.code == 2
    assert "--user-key 'Unobody0000000000000' is not in the lake" in capsys.readouterr().err
    assert tree(local_lake) == before


def test_without_yes_off_a_terminal_nothing_changes(local_lake, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdin", open("/dev/null"))  # noqa: SIM115 - closed by pytest's teardown
    before = tree(local_lake)
    with pytest.raises(SystemExit):
        forget(str(local_lake), "--user-key", busiest(local_lake))
    assert "needs --yes" in capsys.readouterr().err
    assert tree(local_lake) == before


def test_user_id_is_matched_where_the_field_exists(tmp_path, capsys, monkeypatch):
    # user_id comes with the audience fields; rows written before it existed have none.
    monkeypatch.setenv("LOGDIG_DATA_DIR", str(tmp_path / "data"))
    root = tmp_path / "lake"
    events = [click(n, received_at=f"{FIRST}T10:00:0{n}.000Z") for n in range(5)]
    for event in events[:3]:
        event["user_id"] = "alice@example.com"
    write_events(root, events)
    with pytest.raises(SystemExit):
        forget(str(root), "--user-id", "bob@example.com", "--yes")
    assert "--user-id 'bob@example.com' is not in the lake" in capsys.readouterr().err
    forget(str(root), "--user-id", "alice@example.com", "--yes")
    assert "removed 3 event(s) of --user-id 'alice@example.com'" in capsys.readouterr().out
    (left,) = root.rglob("*.jsonl.gz")
    assert [json.loads(line)["event_id"] for line in gzip.decompress(left.read_bytes()).splitlines()] == [
        events[3]["event_id"], events[4]["event_id"]]


BUCKET = "logdig-forget-test"
REPLICA = "logdig-forget-test-replica-eu-west-1"


def all_versions(s3, bucket: str) -> list[tuple[str, bytes]]:
    """(key, bytes unpacked when gzip) of every stored version in the bucket."""
    found = []
    for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
        reply = s3.get_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
        body = reply["Body"].read()
        found.append((version["Key"], gzip.decompress(body) if version["Key"].endswith(".gz") else body))
    return found


@pytest.mark.usefixtures("mock_aws")
def test_forget_on_a_versioned_s3_lake_leaves_no_version_with_the_visitor(source_lake, tmp_path,
                                                                          monkeypatch, capsys):
    monkeypatch.setenv("LOGDIG_DATA_DIR", str(tmp_path / "data"))
    s3, replica = boto3.client("s3"), boto3.client("s3", region_name="eu-west-1")
    s3.create_bucket(Bucket=BUCKET)
    replica.create_bucket(Bucket=REPLICA, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for client, bucket in ((s3, BUCKET), (replica, REPLICA)):
        client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(Bucket=BUCKET, ReplicationConfiguration={
        "Role": "arn:aws:iam::123456789012:role/logdig-replication",
        "Rules": [{"ID": "all", "Priority": 1, "Status": "Enabled", "Filter": {"Prefix": ""},
                   "DeleteMarkerReplication": {"Status": "Disabled"},
                   "Destination": {"Bucket": f"arn:aws:s3:::{REPLICA}"}}]})
    for key in tree(source_lake):  # what S3 replication would have copied (moto does not)
        for client, bucket in ((s3, BUCKET), (replica, REPLICA)):
            client.put_object(Bucket=bucket, Key=key, Body=(source_lake / key).read_bytes())
    lake = lake_files.open_lake(f"s3://{BUCKET}/", "events/")
    visitor = busiest(source_lake)
    before = counts(lake)

    forget(f"s3://{BUCKET}/", "--user-key", visitor, "--yes")

    after = counts(lake)
    assert after[visitor] == 0
    assert after == Counter({k: v for k, v in before.items() if k != visitor})
    versions = s3.list_object_versions(Bucket=BUCKET)
    assert versions.get("DeleteMarkers", []) == []  # old objects' versions deleted, not hidden
    parquet_versions = [v for v in versions["Versions"] if v["Key"].endswith(".parquet")]
    assert len(parquet_versions) == 1  # the rewritten day only: the old one held the visitor
    for client, bucket in ((s3, BUCKET), (replica, REPLICA)):
        for key, body in all_versions(client, bucket):
            assert key.endswith(".parquet") or visitor.encode() not in body, (bucket, key)
    assert [key for key, _ in all_versions(replica, REPLICA) if key.endswith(".parquet")] == []
    assert "removed " in capsys.readouterr().out


def test_the_query_store_answers_as_the_lake_after_a_forget(local_lake, tmp_path, capsys):
    from analysis import store

    lake = lake_files.open_lake(local_lake.as_uri(), "events/")
    path = tmp_path / "store.duckdb"
    store.sync(lake, path, progress=False)
    visitor = busiest(local_lake)
    forget(local_lake.as_uri(), "--user-key", visitor, "--yes", "--store", str(path))
    assert f"query store: {path}" in capsys.readouterr().out
    for name, extra in {"sessions": {}, "pages": {}, "traffic": {"bucket": "day"}}.items():
        opts = reports.options(name, {"from": FIRST, "to": LAST, **extra})
        assert store.run(name, opts, lake, path) == duck.run(name, opts, lake), name


def test_user_id_stored_as_its_hmac_is_found_from_the_plain_id(tmp_path, capsys, monkeypatch):
    from logdig.audience import hash_user_id

    monkeypatch.setenv("LOGDIG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("LOGDIG_USER_ID_SECRET", "s3cret")
    root = tmp_path / "lake"
    events = [click(n, received_at=f"{FIRST}T10:00:0{n}.000Z") for n in range(3)]
    events[0]["user_id"] = hash_user_id("alice@example.com", "s3cret")  # as the collector stores it
    write_events(root, events)
    forget(str(root), "--user-id", "alice@example.com", "--yes")
    assert "removed 1 event(s) of --user-id 'alice@example.com'" in capsys.readouterr().out
