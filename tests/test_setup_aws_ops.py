"""Operations in AWS (issue 15) against moto in-process: alarms and their topic, the dashboard, the
budget, versioning and replication, the compaction Lambda; created once, rerun "no changes",
destroy removes them; bad options refused before anything is created."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

import setup_aws
from deploy import compaction
from deploy.function import code_sha256
from lambda_sqs_to_s3 import metrics
from tests.test_setup_aws import ACCOUNT, BUCKET, REGION, Run, client, https_requests  # noqa: F401
from tests.test_setup_aws_resources import moto_account

EMAIL = "ops@example.com"
REPLICA_REGION = "eu-west-1"
REPLICA = f"{BUCKET}-replica-{REPLICA_REGION}"
TOPIC_ARN = f"arn:aws:sns:{REGION}:{ACCOUNT}:logdig-alarms"
BATCHER_ALARMS = {
    "logdig-queue-oldest-message",
    "logdig-dead-letter-queue",
    "logdig-drain-errors",
    "logdig-drain-throttles",
    "logdig-bad-messages",
    "logdig-no-events",
}


def tiny_duckdb_wheel(folder) -> str:
    """A wheel shaped like DuckDB's (moto never runs the Lambda, so its content is not used)."""
    path = folder / "duckdb-2.0.0-cp312-abi3-manylinux_2_28_aarch64.whl"
    with zipfile.ZipFile(path, "w") as wheel:
        wheel.writestr("duckdb/__init__.py", "")
        wheel.writestr("duckdb-2.0.0.dist-info/METADATA", "Name: duckdb\n")
    return str(path)


def ops_argv(wheel: str) -> list[str]:
    return [
        "deploy",
        "--skip-collector",
        "--alarm-email",
        EMAIL,
        "--monthly-budget",
        "25",
        "--replicate-to",
        REPLICA_REGION,
        "--no-events-hours",
        "4",
        "--duckdb-wheel",
        wheel,
    ]


@pytest.fixture(scope="module")
def deployed(tmp_path_factory):
    """One deploy with every operations option; the tests here only read, rerun or dry-run."""
    wheel = tiny_duckdb_wheel(tmp_path_factory.mktemp("wheel"))
    with moto_account():
        run = Run(ops_argv(wheel))
        assert run.rc == 0, run.out
        run.argv, run.wheel = ops_argv(wheel), Path(wheel)
        yield run


def test_every_resource_is_created_once(deployed):
    made = [
        call for call in deployed.mutating if call.split(".")[1].startswith(("Create", "Put", "Subscribe"))
    ]
    once = [
        "sns.CreateTopic",
        "sns.Subscribe",
        "cloudwatch.PutDashboard",
        "budgets.CreateBudget",
        "s3.PutBucketReplication",
    ]
    for call in once:
        assert made.count(call) == 1, call
    assert made.count("s3.CreateBucket") == made.count("s3.PutBucketVersioning") == 2  # lake, replica
    assert made.count("lambda.CreateFunction") == 2  # the batcher and the compaction
    assert made.count("events.PutRule") == 2
    assert made.count("cloudwatch.PutMetricAlarm") == len(BATCHER_ALARMS)
    assert made.count("iam.CreateRole") == 3  # drain, compaction, replication


def test_rerun_says_no_changes_and_changes_nothing(deployed):
    again = Run(deployed.argv)
    assert again.rc == 0, again.out
    assert again.out.startswith("no changes\n")
    assert again.mutating == []


def test_alarms_notify_the_topic_the_address_follows(deployed):
    alarms = {a["AlarmName"]: a for a in client("cloudwatch").describe_alarms()["MetricAlarms"]}
    assert set(alarms) == BATCHER_ALARMS
    assert all(a["AlarmActions"] == [TOPIC_ARN] for a in alarms.values())
    silent = alarms["logdig-no-events"]
    assert (silent["Namespace"], silent["MetricName"]) == (metrics.NAMESPACE, metrics.EVENTS_DRAINED)
    assert (silent["Period"], silent["EvaluationPeriods"], silent["Threshold"]) == (3600, 4, 1.0)
    assert silent["TreatMissingData"] == "breaching"
    bad = alarms["logdig-bad-messages"]
    assert bad["MetricName"] == metrics.BAD_MESSAGES
    assert bad["Dimensions"] == [{"Name": metrics.DIMENSION, "Value": "logdig"}]
    assert alarms["logdig-queue-oldest-message"]["Threshold"] == 15 * 60
    assert alarms["logdig-dead-letter-queue"]["Dimensions"] == [
        {"Name": "QueueName", "Value": "logdig-events-dlq"}
    ]
    (subscription,) = client("sns").list_subscriptions_by_topic(TopicArn=TOPIC_ARN)["Subscriptions"]
    assert (subscription["Protocol"], subscription["Endpoint"]) == ("email", EMAIL)


def test_dashboard_is_named_after_the_service_and_shows_the_pipeline(deployed):
    body = json.loads(client("cloudwatch").get_dashboard(DashboardName="logdig")["DashboardBody"])
    titles = [w["properties"]["title"] for w in body["widgets"]]
    assert titles == [
        "Queue depth",
        "Oldest message age (s)",
        "Events drained",
        "Batcher duration (ms) and errors",
    ]
    series = [line[1] for w in body["widgets"] for line in w["properties"]["metrics"]]
    assert {metrics.EVENTS_DRAINED, "ApproximateAgeOfOldestMessage", "Duration", "Errors"} <= set(series)


def test_budget_alerts_the_topic(deployed):
    budgets = client("budgets")
    budget = budgets.describe_budget(AccountId=ACCOUNT, BudgetName="logdig-monthly")["Budget"]
    assert budget["BudgetLimit"] == {"Amount": "25.00", "Unit": "USD"}
    assert budget["TimeUnit"] == "MONTHLY"
    found = budgets.describe_notifications_for_budget(AccountId=ACCOUNT, BudgetName="logdig-monthly")
    assert sorted((n["NotificationType"], n["Threshold"]) for n in found["Notifications"]) == [
        ("ACTUAL", 80.0),
        ("FORECASTED", 100.0),
    ]
    policy = json.loads(client("sns").get_topic_attributes(TopicArn=TOPIC_ARN)["Attributes"]["Policy"])
    budgets_statement = next(s for s in policy["Statement"] if s["Sid"] == "BudgetsPublish")
    assert budgets_statement["Principal"] == {"Service": "budgets.amazonaws.com"}
    assert budgets_statement["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}


def test_lake_is_versioned_old_versions_expire_and_new_ones_replicate(deployed):
    s3 = client("s3")
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"
    rules = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    (noncurrent,) = [r for r in rules if "NoncurrentVersionExpiration" in r]
    assert noncurrent["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    replica = boto3_in(REPLICA_REGION).get_bucket_location(Bucket=REPLICA)
    assert replica["LocationConstraint"] == REPLICA_REGION
    assert boto3_in(REPLICA_REGION).get_bucket_versioning(Bucket=REPLICA)["Status"] == "Enabled"
    config = s3.get_bucket_replication(Bucket=BUCKET)["ReplicationConfiguration"]
    assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/logdig-replication"
    assert sorted(r["ID"] for r in config["Rules"]) == [  # one per prefix: bad/, events/, parquet/
        "logdig-replicate-bad",
        "logdig-replicate-events",
        "logdig-replicate-parquet",
    ]
    assert {r["Destination"]["Bucket"] for r in config["Rules"]} == {f"arn:aws:s3:::{REPLICA}"}
    assert {r["DeleteMarkerReplication"]["Status"] for r in config["Rules"]} == {"Disabled"}
    policy = client("iam").get_role_policy(RoleName="logdig-replication", PolicyName="logdig-replication")
    write = next(s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "WriteReplica")
    assert write["Resource"] == f"arn:aws:s3:::{REPLICA}/*"
    assert "s3:ReplicateDelete" not in write["Action"]


def boto3_in(region: str):
    import boto3

    return boto3.client("s3", region_name=region)


def test_compaction_runs_daily_with_only_the_lake_rights_it_needs(deployed, tmp_path):
    config = client("lambda").get_function(FunctionName="logdig-compact")["Configuration"]
    assert config["Handler"] == "analysis.daily.lambda_handler"
    assert (config["MemorySize"], config["Timeout"]) == (1024, 900)
    assert config["Environment"]["Variables"]["LOGDIG_BUCKET"] == BUCKET
    rule = client("events").describe_rule(Name="logdig-compact-schedule")
    assert rule["ScheduleExpression"] == "cron(20 0 * * ? *)"
    (target,) = client("events").list_targets_by_rule(Rule="logdig-compact-schedule")["Targets"]
    assert target["Arn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:logdig-compact"
    policy = client("iam").get_role_policy(RoleName="logdig-compact", PolicyName="logdig-compact")
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["WriteParquet"]["Resource"] == f"arn:aws:s3:::{BUCKET}/parquet/*"
    assert statements["ReadLake"]["Action"] == "s3:GetObject"
    assert statements["ListLakeDays"]["Condition"] == {"StringLike": {"s3:prefix": ["events/*", "parquet/*"]}}
    assert config["CodeSha256"] == code_sha256(compaction.lambda_zip(setup_aws.ROOT, deployed.wheel))


def test_dry_run_of_a_changed_threshold_shows_only_that_alarm(deployed):
    run = Run([*deployed.argv, "--dry-run", "--oldest-message-minutes", "30"])
    assert run.rc == 0 and run.mutating == []
    assert "plan: 1 change(s)" in run.out
    assert (
        "update  cloudwatch alarm logdig-queue-oldest-message: events have waited over 30 minutes" in run.out
    )


@pytest.mark.usefixtures("https_requests")
def test_destroy_removes_every_operations_resource_and_keeps_the_data(mock_aws, tmp_path):
    assert Run(ops_argv(tiny_duckdb_wheel(tmp_path))).rc == 0
    gone = Run(["destroy"])
    assert gone.rc == 0, gone.out
    assert client("cloudwatch").describe_alarms()["MetricAlarms"] == []
    assert client("cloudwatch").list_dashboards()["DashboardEntries"] == []
    assert client("sns").list_topics()["Topics"] == []
    assert client("budgets").describe_budgets(AccountId=ACCOUNT).get("Budgets", []) == []
    assert client("lambda").list_functions()["Functions"] == []
    assert client("events").list_rules()["Rules"] == []
    # The kept lake keeps its backup: the replica, and the rule and role feeding it.
    assert [r["RoleName"] for r in client("iam").list_roles()["Roles"]] == ["logdig-replication"]
    s3 = client("s3")
    assert sorted(b["Name"] for b in s3.list_buckets()["Buckets"]) == sorted([BUCKET, REPLICA])
    assert s3.get_bucket_replication(Bucket=BUCKET)["ReplicationConfiguration"]["Rules"]
    again = Run(["destroy"])
    assert again.out.startswith("no changes\n") and again.mutating == []
    assert f"keep    s3 bucket {REPLICA} ({REPLICA_REGION})" in again.out
    assert Run(["destroy", "--delete-data"]).rc == 0
    assert s3.list_buckets()["Buckets"] == []
    assert client("iam").list_roles()["Roles"] == []


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        (["--alarm-email", "ops@", "--dry-run"], "argument --alarm-email: 'ops@' is not an e-mail address"),
        (["--monthly-budget", "-5"], "argument --monthly-budget: '-5' must be a positive amount"),
        (
            ["--log-retention-days", "10"],
            "argument --log-retention-days: 10 is not a CloudWatch Logs retention",
        ),
    ],
)
def test_bad_operations_options_are_refused_before_any_aws_call(argv, complaint, capsys):
    with pytest.raises(SystemExit) as stopped:
        setup_aws.main(["deploy", *argv], out=io.StringIO(), env={})
    assert stopped.value.code == 2
    assert complaint in capsys.readouterr().err


def test_an_unknown_replication_region_creates_nothing(mock_aws, capsys):
    run = Run(["deploy", "--skip-collector", "--skip-compaction", "--replicate-to", "mars-north-1"])
    assert run.rc == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line == ("setup_aws.py deploy: error: --replicate-to 'mars-north-1': not an S3 region of aws")
    assert run.mutating == []
    assert client("s3").list_buckets()["Buckets"] == []


def test_compaction_package_holds_duckdb_from_the_wheel_and_is_reproducible(tmp_path):
    wheel = Path(tiny_duckdb_wheel(tmp_path))
    first = compaction.lambda_zip(setup_aws.ROOT, wheel)
    assert first == compaction.lambda_zip(setup_aws.ROOT, wheel)
    names = zipfile.ZipFile(io.BytesIO(first)).namelist()
    assert {"analysis/daily.py", "analysis/compact.py", "config.py", "duckdb/__init__.py"} <= set(names)
    assert not any(".dist-info/" in name for name in names)
    assert compaction.duckdb_pin(setup_aws.ROOT) == "2.0.0"


def test_a_health_document_beanstalk_echoes_reformatted_with_its_defaults_is_no_change():
    from deploy.beanstalk import _same_value
    from deploy.stack import EB_METRICS

    want = json.dumps({"CloudWatchMetrics": {"Environment": dict.fromkeys(EB_METRICS, 60)}, "Version": 1})
    echoed = {
        "Rules": {"Environment": {"Application": {"ApplicationRequests4xx": {"Enabled": True}}}},
        "Version": 1,
        "CloudWatchMetrics": {"Instance": {}, "Environment": dict.fromkeys(EB_METRICS, 60)},
    }
    assert _same_value(json.dumps(echoed, indent=2), want)
    echoed["CloudWatchMetrics"]["Environment"]["EnvironmentHealth"] = None  # someone turned it off
    assert not _same_value(json.dumps(echoed), want)
    assert _same_value("true", "true") and not _same_value("t3.small", "t3.micro")
