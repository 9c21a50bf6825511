"""`setup_aws.py restore` and `setup_aws.py cost` on moto in-process: a deployed, versioned lake
loses a day and has an object overwritten, restore brings the same report answers back."""

from __future__ import annotations

import pytest

from analysis import duck, lake_files, reports
from deploy import cost
from tests.lakegen import generate
from tests.test_setup_aws import BUCKET, SKIP, Run, client, https_requests  # noqa: F401

FIRST, LAST = "2026-11-20", "2026-11-21"
CASES = {"traffic": {"bucket": "day"}, "sessions": {}}


def answers() -> dict:
    lake = lake_files.open_lake(f"s3://{BUCKET}/", "events/")
    return {name: duck.run(name, reports.options(name, {"from": FIRST, "to": LAST, **extra}), lake)
            for name, extra in CASES.items()}


@pytest.fixture
def lake(mock_aws, https_requests, tmp_path):  # noqa: F811 - the fixture imported above
    """A deployed stack whose versioned lake holds two days of traffic (two objects a day)."""
    assert Run(SKIP).rc == 0
    root = tmp_path / "lake"
    generate(root, events=800, seed=9, start=FIRST, days=2, max_object_bytes=48 * 1024)
    s3 = client("s3")
    keys = []
    for path in sorted(root.rglob("*.jsonl.gz")):
        keys.append(path.relative_to(root).as_posix())
        s3.put_object(Bucket=BUCKET, Key=keys[-1], Body=path.read_bytes())
    return keys


def test_delete_then_restore_gives_the_same_report_answers(lake, capsys):
    s3 = client("s3")
    before = answers()
    first_day = [key for key in lake if f"dt={FIRST}/" in key]
    for key in first_day:
        s3.delete_object(Bucket=BUCKET, Key=key)  # a bad delete: versioning keeps the data
    overwritten = next(key for key in lake if f"dt={LAST}/" in key)
    s3.put_object(Bucket=BUCKET, Key=overwritten, Body=b"not what the name promises")
    with pytest.raises(Exception):  # noqa: B017 - the overwritten object is no longer gzip
        answers()
    s3.delete_object(Bucket=BUCKET, Key=overwritten)  # and then deleted too, for good measure

    dry = Run(["restore", "--date", FIRST, "--dry-run"])
    assert dry.rc == 0 and dry.mutating == []
    assert f"plan: {len(first_day)} change(s)" in dry.out
    assert all(f"restore s3 object {key}: deleted" in dry.out for key in first_day)

    for day in (FIRST, LAST):
        run = Run(["restore", "--date", day])
        assert run.rc == 0, run.out
    assert answers() == before

    again = Run(["restore", "--date", FIRST])
    assert again.rc == 1 and again.mutating == []
    err = capsys.readouterr().err
    assert f"setup_aws.py restore: error: --date {FIRST}: nothing to restore" in err


def test_an_overwritten_object_comes_back_from_its_content_named_version(lake):
    s3 = client("s3")
    key = lake[0]
    good = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"garbage")
    run = Run(["restore", "--date", FIRST])
    assert run.rc == 0, run.out
    assert f"restore s3 object {key}: overwritten: copy version" in run.out
    assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == good


def test_a_bad_restore_date_is_refused_before_any_call(capsys):
    import io

    import setup_aws

    with pytest.raises(SystemExit):
        setup_aws.main(["restore", "--date", "2026-13-01"], out=io.StringIO(), env={})
    assert "argument --date: '2026-13-01' is not a date YYYY-MM-DD" in capsys.readouterr().err


def test_cost_prices_the_deployed_configuration_with_its_prices_and_their_date(mock_aws):
    assert Run([*SKIP, "--lambda-memory", "512", "--schedule", "rate(10 minutes)"]).rc == 0
    run = Run(["cost", "--events-per-month", "2000000"])
    assert run.rc == 0 and run.mutating == []
    head = f"cost of the deployed configuration, us-east-1 list prices as of {cost.PRICES_DATE}"
    assert run.out.startswith(head)
    assert "4,380 runs of ~0.3 s" in run.out  # rate(10 minutes) read from the rule
    assert "60 s at 512 MB arm64" in run.out
    assert "Beanstalk instance" not in run.out  # --skip-collector: no instance to pay for
    assert "at 2,000,000 events a month: $" in run.out
    assert "sqs_per_million_requests=0.4" in run.out


def test_cost_without_a_deployment_says_it_prices_the_defaults(mock_aws):
    run = Run(["cost"])
    assert run.rc == 0
    assert "deploy's defaults (nothing is deployed here)" in run.out
    assert "t3.micro on demand, $0.0104/h" in run.out
