"""setup_aws.py against moto in-process: what deploy creates, reruns, dry runs, destroy, errors."""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path

import boto3
import pytest
from botocore.awsrequest import AWSResponse

import setup_aws
from deploy import bundles
from deploy.aws import Aws
from deploy.function import code_sha256

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account
BUCKET = f"logdig-lake-{ACCOUNT}-{REGION}"
QUEUE_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:logdig-events"
DLQ_ARN = f"arn:aws:sqs:{REGION}:{ACCOUNT}:logdig-events-dlq"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:logdig-drain"
RULE_ARN = f"arn:aws:events:{REGION}:{ACCOUNT}:rule/logdig-drain-schedule"
LOG_GROUP_ARN = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/logdig-drain"
# The compaction Lambda (and its DuckDB download) is tested in tests/test_setup_aws_ops*.py.
SKIP = ["deploy", "--skip-collector", "--skip-compaction"]


class Run:
    """One command, with a fresh session so its calls are recorded apart from other runs."""

    def __init__(self, argv: list[str], env: dict | None = None, prepare=None):
        self.sleeps: list[float] = []
        self.aws = Aws(boto3.Session(region_name=REGION), sleep=self.sleeps.append)
        if prepare:
            prepare(self.aws)
        out = io.StringIO()
        self.rc = setup_aws.main(argv, out=out, aws=self.aws, env=env or {})
        self.out = out.getvalue()

    @property
    def mutating(self) -> list[str]:
        return self.aws.mutating_calls()


@pytest.fixture
def deployed(mock_aws):
    run = Run(SKIP)
    assert run.rc == 0, run.out
    return run


def client(service: str):
    return boto3.client(service, region_name=REGION)


@pytest.fixture
def https_requests(monkeypatch):
    """moto answers a statement whose Condition does not match with a denial, even for a Deny
    (so our TLS-only Deny blocks every object call). Requests here are HTTPS, where that
    statement does not apply: evaluate only the bucket policy's unconditional statements."""
    from moto.iam.access_control import IAMPolicy, PermissionResult
    from moto.s3.models import FakeBucket

    def get_permission(bucket, action, resource):
        if bucket.policy is None:
            return PermissionResult.NEUTRAL
        policy = json.loads(bucket.policy)
        policy["Statement"] = [s for s in policy["Statement"] if "Condition" not in s]
        return IAMPolicy(json.dumps(policy)).is_action_permitted(action, resource)

    monkeypatch.setattr(FakeBucket, "get_permission", get_permission)


def copy_sources(tree: Path) -> Path:
    """A copy of the files the Lambda zip and the Beanstalk bundle are built from."""
    tree.mkdir()
    for part in {*bundles.LAMBDA_PATHS, *bundles.BEANSTALK_PATHS}:
        source = setup_aws.ROOT / part
        if source.is_dir():
            shutil.copytree(source, tree / part)
        else:
            shutil.copy(source, tree / part)
    return tree


def fail_with(session, event: str, code: str, message: str, times: int = 1):
    """Make the next `times` calls named by `event` fail as AWS would, with `code`."""
    left = [times]

    def fail(**_):
        if left[0] <= 0:
            return None
        left[0] -= 1
        http = AWSResponse("https://aws.invalid", 400, {}, None)
        return http, {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {}}

    session.events.register(f"before-call.{event}", fail)


def test_expire_events_days_adds_a_lifecycle_rule_on_the_lake_prefix(mock_aws):
    assert Run([*SKIP, "--expire-events-days", "400"]).rc == 0
    rules = client("s3").get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    (expire,) = [r for r in rules if r["ID"] == "logdig-expire-events"]
    assert expire["Filter"]["Prefix"] == "events/"
    assert expire["Expiration"]["Days"] == 400


def test_visibility_timeout_follows_the_lambda_timeout(mock_aws):
    env = {"LOGDIG_MAX_MESSAGE_BYTES": "131072"}
    assert Run([*SKIP, "--lambda-timeout", "900"], env=env).rc == 0
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName="logdig-events")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["VisibilityTimeout"] == str(6 * 900)
    assert attributes["MaximumMessageSize"] == "131072"


def test_settings_set_in_the_environment_reach_the_lambda(mock_aws):
    env = {"LOGDIG_MIN_MESSAGES": "50", "LOGDIG_SERVICE_NAME": "shop-logs"}
    run = Run([*SKIP, "--lambda-memory", "512"], env=env)
    assert run.rc == 0, run.out
    config = client("lambda").get_function(FunctionName="shop-logs-drain")["Configuration"]
    assert config["MemorySize"] == 512
    assert config["Environment"]["Variables"]["LOGDIG_MIN_MESSAGES"] == "50"
    assert config["Environment"]["Variables"]["LOGDIG_BUCKET"] == f"shop-logs-lake-{ACCOUNT}-{REGION}"


def test_dry_run_on_an_empty_account_plans_everything_and_creates_nothing(mock_aws):
    run = Run([*SKIP, "--dry-run"])
    assert run.rc == 0
    assert run.mutating == []
    assert f"create  s3 bucket {BUCKET}" in run.out
    assert "create  lambda function logdig-drain" in run.out
    assert "dry run: nothing was changed" in run.out
    assert client("s3").list_buckets()["Buckets"] == []
    assert client("sqs").list_queues().get("QueueUrls", []) == []


def test_changed_code_gives_only_a_new_lambda_upload(deployed, tmp_path, monkeypatch):
    tree = copy_sources(tmp_path / "tree")
    (tree / "lambda_sqs_to_s3" / "handler.py").write_text(
        (tree / "lambda_sqs_to_s3" / "handler.py").read_text() + "\n# changed\n"
    )
    monkeypatch.setattr(setup_aws, "ROOT", tree)
    run = Run(SKIP)
    assert run.rc == 0, run.out
    assert run.mutating == ["lambda.UpdateFunctionCode"]
    config = client("lambda").get_function(FunctionName="logdig-drain")["Configuration"]
    assert config["CodeSha256"] == code_sha256(bundles.lambda_zip(tree))


def test_destroy_leaves_nothing_but_the_kept_bucket(deployed, https_requests):
    client("s3").put_object(Bucket=BUCKET, Key="events/dt=2026-11-23/x.jsonl.gz", Body=b"x")
    run = Run(["destroy"])
    assert run.rc == 0, run.out
    assert f"keep    s3 bucket {BUCKET}" in run.out
    assert [b["Name"] for b in client("s3").list_buckets()["Buckets"]] == [BUCKET]
    assert client("s3").list_objects_v2(Bucket=BUCKET)["KeyCount"] == 1
    assert client("sqs").list_queues().get("QueueUrls", []) == []
    assert client("lambda").list_functions()["Functions"] == []
    assert client("iam").list_roles()["Roles"] == []
    assert client("events").list_rules()["Rules"] == []
    assert client("glue").get_databases()["DatabaseList"] == []
    groups = client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/")["logGroups"]
    assert groups == []
    assert "logdig" not in [g["Name"] for g in client("athena").list_work_groups()["WorkGroups"]]
    again = Run(["destroy"])
    assert again.out.startswith("no changes\n") and again.mutating == []


def test_destroy_with_delete_data_removes_the_bucket_too(deployed, https_requests):
    client("s3").put_object(Bucket=BUCKET, Key="events/dt=2026-11-23/x.jsonl.gz", Body=b"x")
    assert Run(["destroy", "--delete-data"]).rc == 0
    assert client("s3").list_buckets()["Buckets"] == []


def test_a_taken_bucket_name_is_one_line_naming_bucket_and_cause(mock_aws, capsys):
    def taken(aws):
        fail_with(aws.session, "s3.CreateBucket", "BucketAlreadyExists", "not available")

    run = Run(SKIP, prepare=taken)
    assert run.rc == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"setup_aws.py deploy: error: s3 bucket {BUCKET}: ")
    assert "taken by another account" in line


def test_lambda_creation_waits_for_the_new_role_with_bounded_retries(mock_aws):
    def role_not_ready_twice(aws):
        message = "The role defined for the function cannot be assumed by Lambda."
        fail_with(aws.session, "lambda.CreateFunction", "InvalidParameterValueException", message, 2)

    run = Run(SKIP, prepare=role_not_ready_twice)
    assert run.rc == 0, run.out
    assert len(run.sleeps) == 2
    assert client("lambda").get_function(FunctionName="logdig-drain")


def test_an_invalid_setting_is_one_line_naming_the_variable(mock_aws, capsys):
    run = Run(SKIP, env={"LOGDIG_SERVICE_NAME": "Bad_Name"})
    assert run.rc == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert "LOGDIG_SERVICE_NAME='Bad_Name'" in line
    assert run.aws.calls == []


def test_planning_refuses_any_call_that_could_change_something(mock_aws):
    aws = Aws(boto3.Session(region_name=REGION))
    with aws.reads_only(), pytest.raises(setup_aws.DeployError, match="s3.CreateBucket: refused"):
        aws.client("s3").create_bucket(Bucket="not-made")
    assert client("s3").list_buckets()["Buckets"] == []
    aws.client("s3").list_buckets()  # reads pass, and after planning everything does
    assert aws.calls == ["s3.ListBuckets"]


def test_a_service_name_too_long_for_beanstalk_still_deploys_without_it_and_destroys(mock_aws, capsys):
    env = {"LOGDIG_SERVICE_NAME": "a-rather-long-service-name-for-logs"}  # 35 + "-collector" > 40
    full = Run(["deploy", "--dry-run"], env=env)
    assert full.rc == 1
    assert "shorten LOGDIG_SERVICE_NAME" in capsys.readouterr().err
    assert Run(SKIP, env={**env, "LOGDIG_BUCKET": "long-name-lake"}).rc == 0
    gone = Run(["destroy", "--delete-data"], env={**env, "LOGDIG_BUCKET": "long-name-lake"})
    assert gone.rc == 0, gone.out
    assert client("lambda").list_functions()["Functions"] == []


@pytest.mark.parametrize(
    ("argv", "complaint"),
    [
        ([*SKIP, "--schedule", "every 5 minutes"], "is not an EventBridge schedule"),
        ([*SKIP, "--lambda-timeout", "20"], "20 is not between 35 and 900"),
        ([*SKIP, "--lambda-memory", "lots"], "'lots' is not a whole number"),
    ],
)
def test_bad_options_are_refused_before_any_aws_call(argv, complaint, capsys):
    with pytest.raises(SystemExit) as stopped:
        setup_aws.main(argv, out=io.StringIO(), env={})
    assert stopped.value.code == 2
    assert complaint in capsys.readouterr().err
