"""The one lake interface behaves the same on a directory and on S3 under a key root."""

import boto3
import pytest

from logdig.errors import LakeError
from logdig.lake import DirLake, S3Lake
from logdig.lake_layout import listed_days

KEYS = ["events/dt=2026-11-01/a.jsonl.gz", "events/dt=2026-11-01/b.jsonl.gz",
        "events/dt=2026-11-03/c.jsonl.gz", "events/dt=2026-11-03/nested/d.jsonl.gz",
        "events/notes/e.json", "parquet/dt=2026-11-01/events.parquet"]


@pytest.fixture(params=["directory", "s3"])
def lake(request, tmp_path):
    if request.param == "directory":
        return DirLake(tmp_path / "lake")
    request.getfixturevalue("mock_aws")
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="lake")
    s3.put_object(Bucket="lake", Key="elsewhere/events/dt=2026-12-31/x.jsonl.gz", Body=b"x")
    return S3Lake("lake", s3, root="site/")


def test_listing_reads_only_the_folder_asked_for(lake):
    # GIVEN objects in two day folders, a nested folder and a folder that is not a day
    for key in KEYS:
        lake.put(key, key.encode())

    # THEN keys are relative to the lake root, and each listing stays in its folder
    assert lake.keys("events/") == sorted(k for k in KEYS if k.startswith("events/"))
    assert lake.folders("events/") == ["dt=2026-11-01", "dt=2026-11-03", "notes"]
    assert listed_days(lake, "events/") == ["2026-11-01", "2026-11-03"]
    assert listed_days(lake, "parquet/") == ["2026-11-01"]
    assert listed_days(lake, "bad/") == []
    assert lake.names("events/dt=2026-11-03/", ".jsonl.gz") == ["c.jsonl.gz"]
    assert lake.get(KEYS[2]) == KEYS[2].encode()


def test_a_built_file_is_published_whole_under_its_key(lake, tmp_path):
    key = "parquet/dt=2026-11-02/events.parquet"
    built = lake.build_path(key, tmp_path)
    built.write_bytes(b"PAR1 day PAR1")

    lake.publish(built, key)

    assert lake.get(key) == b"PAR1 day PAR1"
    assert lake.names("parquet/dt=2026-11-02/", ".parquet") == ["events.parquet"]
    assert lake.fetch(key, tmp_path / "work").read_bytes() == b"PAR1 day PAR1"


def test_a_directory_lake_reads_through_symlinks_but_no_key_leaves_it(tmp_path):
    # GIVEN a day's object kept on another disk and linked into the lake (as the dashboard's
    # overlay of the lake and the queued events does)
    elsewhere = tmp_path / "other-disk" / "a.jsonl.gz"
    elsewhere.parent.mkdir()
    elsewhere.write_bytes(b"linked")
    lake = DirLake(tmp_path / "lake")
    (tmp_path / "lake/events/dt=2026-11-01").mkdir(parents=True)
    (tmp_path / "lake/events/dt=2026-11-01/a.jsonl.gz").symlink_to(elsewhere)

    # THEN the linked object reads like any other
    assert lake.get("events/dt=2026-11-01/a.jsonl.gz") == b"linked"
    assert lake.names("events/dt=2026-11-01/", ".jsonl.gz") == ["a.jsonl.gz"]
    # AND a key that names a place outside the lake is refused, by reading or by writing
    for key in ("../other-disk/a.jsonl.gz", "events/../../other-disk/a.jsonl.gz",
                "/etc/passwd"):
        with pytest.raises(LakeError, match="leaves the lake directory"):
            lake.get(key)
        with pytest.raises(LakeError, match="leaves the lake directory"):
            lake.put(key, b"x")
