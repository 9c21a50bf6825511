"""What `deploy --skip-collector` creates, checked once against one moto account: the bucket, the
queues, the roles' policies, the Lambda, its schedule, the Glue table and the Athena workgroup."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator

import pytest
from moto import mock_aws

import setup_aws
from deploy import bundles
from deploy.function import code_sha256
from tests.test_setup_aws import (
    ACCOUNT,
    BUCKET,
    DLQ_ARN,
    FUNCTION_ARN,
    LOG_GROUP_ARN,
    QUEUE_ARN,
    REGION,
    RULE_ARN,
    SKIP,
    Run,
    client,
)

FAKE_AWS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
}


@contextlib.contextmanager
def moto_account() -> Iterator[None]:
    """Fake credentials and moto for a whole module (function-scoped fixtures cannot be)."""
    with pytest.MonkeyPatch.context() as env:
        for name, value in FAKE_AWS.items():
            env.setenv(name, value)
        for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
            env.delenv(name, raising=False)
        with mock_aws():
            yield


@pytest.fixture(scope="module")
def deployed():
    """One deploy for every test here: none of them changes anything (reruns and dry runs only)."""
    with moto_account():
        run = Run(SKIP)
        assert run.rc == 0, run.out
        yield run


def test_bucket_is_private_encrypted_and_tls_only(deployed):
    s3 = client("s3")
    block = s3.get_public_access_block(Bucket=BUCKET)["PublicAccessBlockConfiguration"]
    assert block == dict.fromkeys(
        ["BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"], True
    )
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    (statement,) = json.loads(s3.get_bucket_policy(Bucket=BUCKET)["Policy"])["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert statement["Resource"] == [f"arn:aws:s3:::{BUCKET}", f"arn:aws:s3:::{BUCKET}/*"]
    lifecycle = s3.get_bucket_lifecycle_configuration(Bucket=BUCKET)["Rules"]
    assert {r["ID"] for r in lifecycle} == {
        "logdig-expire-athena-results",
        "logdig-abort-incomplete-uploads",
        "logdig-expire-noncurrent-versions",
    }
    assert s3.get_bucket_versioning(Bucket=BUCKET)["Status"] == "Enabled"


def test_queue_is_sized_for_packing_long_polled_and_redriven(deployed):
    sqs = client("sqs")
    url = sqs.get_queue_url(QueueName="logdig-events")["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["MaximumMessageSize"] == "262144"
    assert attributes["ReceiveMessageWaitTimeSeconds"] == "20"
    assert int(attributes["VisibilityTimeout"]) >= 6 * 120  # 6x the default Lambda timeout
    assert json.loads(attributes["RedrivePolicy"]) == {
        "deadLetterTargetArn": DLQ_ARN,
        "maxReceiveCount": 5,
    }
    assert sqs.get_queue_url(QueueName="logdig-events-dlq")["QueueUrl"]


def resources_of(policy: dict) -> list[str]:
    found = []
    for statement in policy["Statement"]:
        resource = statement["Resource"]
        found += resource if isinstance(resource, list) else [resource]
    return found


def test_drain_role_may_only_drain_this_queue_write_the_lake_and_its_logs(deployed):
    iam = client("iam")
    role = iam.get_role(RoleName="logdig-drain")["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "lambda.amazonaws.com"}
    assert iam.list_attached_role_policies(RoleName="logdig-drain")["AttachedPolicies"] == []
    policy = iam.get_role_policy(RoleName="logdig-drain", PolicyName="logdig-drain")
    statements = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert statements["DrainQueue"]["Resource"] == QUEUE_ARN
    assert set(statements["DrainQueue"]["Action"]) == {
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:ChangeMessageVisibility",
    }
    assert statements["WriteLake"]["Action"] == "s3:PutObject"
    assert statements["WriteLake"]["Resource"] == [
        f"arn:aws:s3:::{BUCKET}/bad/*",
        f"arn:aws:s3:::{BUCKET}/events/*",
    ]
    assert statements["WriteLogs"]["Resource"] == f"{LOG_GROUP_ARN}:*"
    assert not any(r == "*" or r.endswith(":*:*") for r in resources_of(policy["PolicyDocument"]))


def test_lambda_runs_a_current_python_with_its_settings_and_this_zip(deployed):
    config = client("lambda").get_function(FunctionName="logdig-drain")["Configuration"]
    assert config["Runtime"] == "python3.13"
    assert config["Handler"] == "lambda_sqs_to_s3.handler.lambda_handler"
    assert config["Role"] == f"arn:aws:iam::{ACCOUNT}:role/logdig-drain"
    assert (config["MemorySize"], config["Timeout"]) == (256, 120)
    assert config["CodeSha256"] == code_sha256(bundles.lambda_zip(setup_aws.ROOT))
    queue_url = client("sqs").get_queue_url(QueueName="logdig-events")["QueueUrl"]
    assert config["Environment"]["Variables"] == {
        "LOGDIG_SERVICE_NAME": "logdig",
        "LOGDIG_QUEUE_URL": queue_url,
        "LOGDIG_BUCKET": BUCKET,
        "LOGDIG_LAKE_PREFIX": "events/",
        "LOGDIG_AWS_REGION": REGION,
        "LOGDIG_VISIBILITY_TIMEOUT_SECONDS": "720",
    }
    retention = client("logs").describe_log_groups(logGroupNamePrefix="/aws/lambda/logdig-drain")
    assert retention["logGroups"][0]["retentionInDays"] == 30


def test_schedule_invokes_the_lambda_every_five_minutes(deployed):
    events = client("events")
    rule = events.describe_rule(Name="logdig-drain-schedule")
    assert (rule["ScheduleExpression"], rule["State"]) == ("rate(5 minutes)", "ENABLED")
    (target,) = events.list_targets_by_rule(Rule="logdig-drain-schedule")["Targets"]
    assert target["Arn"] == FUNCTION_ARN
    policy = json.loads(client("lambda").get_policy(FunctionName="logdig-drain")["Policy"])
    (statement,) = policy["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"]["ArnLike"]["AWS:SourceArn"] == RULE_ARN


def test_glue_table_projects_dt_over_the_lake_and_workgroup_keeps_results(deployed):
    table = client("glue").get_table(DatabaseName="logdig", Name="events")["Table"]
    assert table["StorageDescriptor"]["Location"] == f"s3://{BUCKET}/events/"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    assert table["Parameters"]["projection.enabled"] == "true"
    assert table["Parameters"]["storage.location.template"] == f"s3://{BUCKET}/events/dt=${{dt}}/"
    group = client("athena").get_work_group(WorkGroup="logdig")["WorkGroup"]
    output = group["Configuration"]["ResultConfiguration"]["OutputLocation"]
    assert output == f"s3://{BUCKET}/athena-results/"
    assert "athena table: logdig.events (workgroup logdig)" in deployed.out


def test_second_run_makes_no_mutating_call_and_says_no_changes(deployed):
    again = Run(SKIP)
    assert again.rc == 0
    assert again.out.startswith("no changes\n")
    assert again.mutating == []
    assert len(again.aws.calls) > 10  # it did look at everything


def test_dry_run_shows_a_changed_setting_without_applying_it(deployed):
    run = Run([*SKIP, "--dry-run", "--lambda-memory", "1024"])
    assert run.mutating == []
    assert "update  lambda function logdig-drain: MemorySize" in run.out
    config = client("lambda").get_function(FunctionName="logdig-drain")["Configuration"]
    assert config["MemorySize"] == 256
