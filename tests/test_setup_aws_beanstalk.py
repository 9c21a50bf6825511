"""The Beanstalk collector: moto lacks most of Elastic Beanstalk, so its calls go to botocore's
Stubber, which checks every request and response against the real API model; the rest is moto."""

from __future__ import annotations

import pytest
from botocore.stub import Stubber

import setup_aws
from deploy import bundles
from deploy.beanstalk import newest_python_platform
from deploy.errors import DeployError
from deploy.iam import PROFILE_SETTLE_SECONDS
from tests.test_setup_aws import ACCOUNT, QUEUE_ARN, REGION, Run, client, copy_sources

APP = "logdig"
ENV = "logdig-collector"
EB_BUCKET = f"elasticbeanstalk-{REGION}-{ACCOUNT}"
CNAME = "logdig-collector.eba-abc123.us-east-1.elasticbeanstalk.com"
PLATFORM = "64bit Amazon Linux 2023 v4.5.1 running Python 3.13"
STACKS = [
    "64bit Amazon Linux 2 v3.8.0 running Python 3.8",
    "64bit Amazon Linux 2023 v4.4.2 running Python 3.12",
    PLATFORM,
    "64bit Amazon Linux 2023 v4.5.1 running Python 3.11",
    "64bit Amazon Linux 2023 v4.3.9 running Docker",
]
SELECTOR = {"ApplicationName": APP, "EnvironmentNames": [ENV]}
HEALTH_METRICS = (
    '{"CloudWatchMetrics":{"Environment":{"ApplicationLatencyP90":60,"ApplicationRequests5xx":60,'
    '"ApplicationRequestsTotal":60,"EnvironmentHealth":60}},"Version":1}'
)


def label_of(root) -> str:
    return f"logdig-{bundles.sha256_hex(bundles.beanstalk_bundle(root))[:16]}"


def queue_url() -> str:
    return client("sqs").get_queue_url(QueueName="logdig-events")["QueueUrl"]


def option_settings(url: str) -> list[dict]:
    """The environment Beanstalk should run: settings as environment properties."""
    env = "aws:elasticbeanstalk:application:environment"
    launch = "aws:autoscaling:launchconfiguration"
    settings = [
        (launch, "IamInstanceProfile", "logdig-collector"),
        (launch, "DisableIMDSv1", "true"),
        ("aws:ec2:instances", "InstanceTypes", "t3.micro"),
        ("aws:elasticbeanstalk:application", "Application Healthcheck URL", "/healthz"),
        (env, "LOGDIG_AWS_REGION", REGION),
        (env, "LOGDIG_LAKE_PREFIX", "events/"),
        (env, "LOGDIG_QUEUE_URL", url),
        (env, "LOGDIG_SERVICE_NAME", "logdig"),
        (env, "LOGDIG_TOKENS", "site1=https://shop.example"),
        (env, "LOGDIG_TRUSTED_PROXY_HOPS", "1"),
        ("aws:elasticbeanstalk:environment", "EnvironmentType", "SingleInstance"),
        ("aws:elasticbeanstalk:cloudwatch:logs", "StreamLogs", "true"),
        ("aws:elasticbeanstalk:cloudwatch:logs", "RetentionInDays", "30"),
        ("aws:elasticbeanstalk:cloudwatch:logs", "DeleteOnTerminate", "false"),
        ("aws:elasticbeanstalk:healthreporting:system", "SystemType", "enhanced"),
        ("aws:elasticbeanstalk:healthreporting:system", "ConfigDocument", HEALTH_METRICS),
    ]
    return [{"Namespace": n, "OptionName": o, "Value": v} for n, o, v in sorted(settings)]


def environment(status: str, label: str) -> dict:
    return {"EnvironmentName": ENV, "Status": status, "VersionLabel": label, "CNAME": CNAME}


class Beanstalk:
    """Queue the Elastic Beanstalk calls a run must make, in order; anything else fails."""

    def __init__(self):
        self.calls: list[tuple[str, dict, dict]] = []

    def expect(self, operation: str, params: dict, response: dict) -> Beanstalk:
        self.calls.append((operation, params, response))
        return self

    def stub(self, aws) -> None:
        self.stubber = Stubber(aws.client("elasticbeanstalk"))
        for operation, params, response in self.calls:
            self.stubber.add_response(operation, response, params)
        self.stubber.activate()

    def read(self, app: bool, version: str | None, known: bool, env: dict | None) -> Beanstalk:
        """The plan's reads: application, version `version` (`known` or not), environment."""
        apps = [{"ApplicationName": APP}] if app else []
        self.expect("describe_applications", {"ApplicationNames": [APP]}, {"Applications": apps})
        if version is not None:
            found = [{"ApplicationName": APP, "VersionLabel": version}] if known else []
            self.expect(
                "describe_application_versions",
                {"ApplicationName": APP, "VersionLabels": [version]},
                {"ApplicationVersions": found},
            )
        return self.read_environment(env)

    def read_environment(self, env: dict | None) -> Beanstalk:
        self.expect(
            "describe_environments",
            {**SELECTOR, "IncludeDeleted": False},
            {"Environments": [env] if env else []},
        )
        if env:
            settings = option_settings(queue_url())
            self.expect(
                "describe_configuration_settings",
                {"ApplicationName": APP, "EnvironmentName": ENV},
                {"ConfigurationSettings": [{"OptionSettings": settings}]},
            )
        return self

    def until(self, status: str, label: str) -> Beanstalk:
        """One waiter poll that finds the environment `status`."""
        found = {"Environments": [environment(status, label)]}
        return self.expect("describe_environments", SELECTOR, found)

    def upload(self, label: str) -> Beanstalk:
        self.expect("create_storage_location", {}, {"S3Bucket": EB_BUCKET})
        source = {"S3Bucket": EB_BUCKET, "S3Key": f"{APP}/{label}.zip"}
        return self.expect(
            "create_application_version",
            {
                "ApplicationName": APP,
                "VersionLabel": label,
                "SourceBundle": source,
                "Description": "LogDig collector, built by setup_aws.py",
            },
            {"ApplicationVersion": {"ApplicationName": APP, "VersionLabel": label}},
        )

    def first_deploy(self, label: str) -> Beanstalk:
        self.expect("list_available_solution_stacks", {}, {"SolutionStacks": STACKS})
        self.expect(
            "create_application",
            {"ApplicationName": APP, "Description": "LogDig collector"},
            {"Application": {"ApplicationName": APP}},
        )
        self.upload(label)
        self.expect(
            "create_environment",
            {
                "ApplicationName": APP,
                "EnvironmentName": ENV,
                "SolutionStackName": PLATFORM,
                "VersionLabel": label,
                "OptionSettings": option_settings(queue_url()),
                "Description": "LogDig collector",
            },
            environment("Launching", label),
        )
        return self.until("Ready", label).until("Ready", label)  # the waiter, then its URL

    def update(self, label: str, **params) -> Beanstalk:
        self.expect(
            "update_environment",
            {"ApplicationName": APP, "EnvironmentName": ENV, **params},
            environment("Updating", label),
        )
        return self.until("Ready", label)


ENV_VARS = {"LOGDIG_TOKENS": "site1=https://shop.example"}
DEPLOY = ["deploy", "--skip-compaction"]  # compaction: tests/test_setup_aws_ops*.py


@pytest.fixture
def queue_first(mock_aws):
    """The queue exists before the collector's plan, so its URL is known when stubbing."""
    assert Run(["deploy", "--skip-collector", "--skip-compaction"], env=ENV_VARS).rc == 0
    client("s3").create_bucket(Bucket=EB_BUCKET)  # create_storage_location's, stubbed away


@pytest.fixture
def collector(queue_first):
    """A first full deploy; returns its run."""
    label = label_of(setup_aws.ROOT)
    return run_with(Beanstalk().read(False, label, False, None).first_deploy(label), DEPLOY)


def run_with(beanstalk: Beanstalk, argv: list[str], env: dict | None = None) -> Run:
    run = Run(argv, env=env or ENV_VARS, prepare=beanstalk.stub)
    assert run.rc == 0, run.out
    beanstalk.stubber.assert_no_pending_responses()
    return run


def test_newest_python_platform_is_looked_up_not_hard_coded():
    assert newest_python_platform(STACKS) == PLATFORM
    with pytest.raises(DeployError, match="no Amazon Linux 2023 Python"):
        newest_python_platform(["64bit Amazon Linux 2 v3.8.0 running Python 3.8"])


def test_deploy_creates_application_version_and_environment(collector):
    label = label_of(setup_aws.ROOT)
    assert f"collector: http://{CNAME}" in collector.out
    tag = f'script tag: <script async src="http://{CNAME}/clickTracker.js" data-token="site1">'
    assert tag in collector.out
    bundle = client("s3").get_object(Bucket=EB_BUCKET, Key=f"{APP}/{label}.zip")["Body"].read()
    assert bundle == bundles.beanstalk_bundle(setup_aws.ROOT)


def test_collector_instance_profile_may_only_send_to_the_queue(collector):
    iam = client("iam")
    profile = iam.get_instance_profile(InstanceProfileName="logdig-collector")["InstanceProfile"]
    assert [role["RoleName"] for role in profile["Roles"]] == ["logdig-collector"]
    role = iam.get_role(RoleName="logdig-collector")["Role"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "ec2.amazonaws.com"}
    assert iam.list_attached_role_policies(RoleName="logdig-collector")["AttachedPolicies"] == []
    policy = iam.get_role_policy(RoleName="logdig-collector", PolicyName="logdig-collector")
    statement, logs = policy["PolicyDocument"]["Statement"]
    assert (statement["Effect"], statement["Action"]) == ("Allow", "sqs:SendMessage")
    assert statement["Resource"] == QUEUE_ARN
    assert logs["Action"] == ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"]
    assert logs["Resource"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/elasticbeanstalk/{ENV}/*"
    assert collector.sleeps == [PROFILE_SETTLE_SECONDS]  # let EC2 see the new profile first


def test_rerun_with_nothing_changed_reads_only(collector):
    label = label_of(setup_aws.ROOT)
    # Stubber fails on any call not queued here, so reads are all it can make.
    again = run_with(Beanstalk().read(True, label, True, environment("Ready", label)), DEPLOY)
    assert again.out.startswith("no changes\n")
    assert again.mutating == []


def test_changed_collector_code_gives_only_a_new_version(collector, tmp_path, monkeypatch):
    old = label_of(setup_aws.ROOT)
    tree = copy_sources(tmp_path / "tree")
    (tree / "app" / "ingest.py").write_text((tree / "app" / "ingest.py").read_text() + "# new\n")
    monkeypatch.setattr(setup_aws, "ROOT", tree)
    new = label_of(tree)
    eb = Beanstalk().read(True, new, False, environment("Ready", old))
    run = run_with(eb.upload(new).update(new, VersionLabel=new), DEPLOY)
    assert f"update  beanstalk environment {ENV}: deploy {new}" in run.out
    assert run.mutating == ["s3.PutObject"]  # the bundle; everything else is unchanged


def test_changed_setting_updates_only_that_environment_property(collector):
    label = label_of(setup_aws.ROOT)
    eb = Beanstalk().read(True, label, True, environment("Ready", label))
    namespace = "aws:elasticbeanstalk:application:environment"
    change = {"Namespace": namespace, "OptionName": "LOGDIG_TOKENS", "Value": "site2"}
    run = run_with(eb.update(label, OptionSettings=[change]), DEPLOY, {"LOGDIG_TOKENS": "site2"})
    assert f"update  beanstalk environment {ENV}: LOGDIG_TOKENS" in run.out
    assert run.mutating == []  # moto's side: the Lambda does not read LOGDIG_TOKENS


def test_destroy_terminates_the_environment_and_deletes_the_application(collector):
    label = label_of(setup_aws.ROOT)
    eb = Beanstalk().read_environment(environment("Ready", label))
    apps = {"Applications": [{"ApplicationName": APP}]}
    eb.expect("describe_applications", {"ApplicationNames": [APP]}, apps)
    eb.expect("terminate_environment", {"EnvironmentName": ENV}, environment("Terminating", label))
    eb.until("Terminated", label)
    versions = {"ApplicationVersions": [{"ApplicationName": APP, "VersionLabel": label}]}
    eb.expect("describe_application_versions", {"ApplicationName": APP}, versions)
    eb.expect(
        "delete_application_version",
        {"ApplicationName": APP, "VersionLabel": label, "DeleteSourceBundle": True},
        {},
    )
    eb.expect("delete_application", {"ApplicationName": APP, "TerminateEnvByForce": True}, {})
    run = run_with(eb, ["destroy"])
    assert f"delete  beanstalk environment {ENV}" in run.out
    assert client("iam").list_roles()["Roles"] == []
    assert client("iam").list_instance_profiles()["InstanceProfiles"] == []


def test_beanstalk_errors_come_out_as_one_line(queue_first, capsys):
    def deny(aws) -> None:
        stubber = Stubber(aws.client("elasticbeanstalk"))
        params = {"ApplicationNames": [APP]}
        stubber.add_client_error("describe_applications", "AccessDenied", "no", 403, params)
        stubber.activate()

    run = Run(DEPLOY, env=ENV_VARS, prepare=deny)
    assert run.rc == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"setup_aws.py deploy: error: beanstalk application {APP}: ")
    assert "access denied" in line


def test_an_environment_that_launches_unhealthy_is_an_error(queue_first, capsys):
    label = label_of(setup_aws.ROOT)
    eb = Beanstalk().read(False, label, False, None).first_deploy(label)
    operation, params, _ = eb.calls[-1]  # the look at the launched environment
    eb.calls[-1] = (operation, params, {"Environments": [{**environment("Ready", label), "Health": "Red"}]})
    run = Run(DEPLOY, env=ENV_VARS, prepare=eb.stub)
    assert run.rc == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert f"beanstalk environment {ENV}: launched but unhealthy (Red)" in line
