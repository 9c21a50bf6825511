"""The whole LogDig stack in dependency order, and the deploy and destroy commands over it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from pathlib import Path
from typing import TextIO

from config import Settings, env_name
from deploy import athena, backup, beanstalk, bundles, compaction, iam
from deploy.alarms import Alarms, Thresholds, Topic
from deploy.aws import Aws
from deploy.budget import Budget
from deploy.dashboard import Dashboard
from deploy.function import DrainFunction, LogGroup
from deploy.names import Names
from deploy.plan import Plan, Resource, build_plan
from deploy.queues import QueueResource, dead_letter_attributes, event_queue_attributes
from deploy.schedule import Schedule
from deploy.storage import NONCURRENT_DAYS, LakeBucket

# Settings each component reads; passed on only when set, so both sides share one default.
DRAIN_SETTINGS = ("min_messages", "max_wait_seconds", "max_object_bytes", "bad_prefix")
COLLECTOR_SETTINGS = (
    "tokens",
    "allowed_origins",
    "anonymize_ip",
    "max_body_bytes",
    "max_events_per_request",
    "flush_wait_ms",
    "max_message_bytes",
    "queue_retry_seconds",
    "workers",
    "threads",
)
VISIBILITY_PER_TIMEOUT = 6  # AWS's advice for a queue drained by a Lambda
EB_LAUNCH = "aws:autoscaling:launchconfiguration"
EB_LOGS = "aws:elasticbeanstalk:cloudwatch:logs"
EB_HEALTH = "aws:elasticbeanstalk:healthreporting:system"
# Enhanced health publishes these per minute as custom metrics the alarms and dashboard read.
EB_METRICS = (
    "ApplicationLatencyP90",
    "ApplicationRequests5xx",
    "ApplicationRequestsTotal",
    "EnvironmentHealth",
)


@dataclass(frozen=True)
class Options:
    skip_collector: bool = False
    lambda_memory_mb: int = 256
    lambda_timeout_seconds: int = 120
    schedule: str = "rate(5 minutes)"
    expire_events_days: int | None = None
    instance_type: str = "t3.micro"
    delete_data: bool = False
    # Operations (issue 15): alarms, budget, backup, compaction, collector logs.
    alarm_email: str | None = None
    thresholds: Thresholds = Thresholds()
    monthly_budget: Decimal | None = None
    noncurrent_days: int = NONCURRENT_DAYS
    replicate_to: str | None = None
    log_retention_days: int = 30
    compaction: bool = True
    duckdb_wheel: Path | None = None


@dataclass
class Outputs:
    """What reads and creates learn that names alone do not tell (URLs AWS chooses)."""

    queue_url: str = ""
    collector_url: str = ""


@dataclass
class Stack:
    aws: Aws
    settings: Settings
    env: Mapping[str, str]
    options: Options
    root: Path
    outputs: Outputs = field(default_factory=Outputs)

    def __post_init__(self) -> None:
        self.names = Names.build(self.settings, self.aws.account, self.aws.region, self.aws.partition)

    @property
    def visibility_timeout(self) -> int:
        return max(
            VISIBILITY_PER_TIMEOUT * self.options.lambda_timeout_seconds,
            self.settings.visibility_timeout_seconds,
        )

    def passed_on(self, names: tuple[str, ...]) -> dict[str, str]:
        return {env_name(n): self.env[env_name(n)] for n in names if env_name(n) in self.env}

    def common_env(self) -> dict[str, str]:
        return {
            env_name("service_name"): self.names.service,
            env_name("queue_url"): self.outputs.queue_url,
            env_name("aws_region"): self.names.region,
            env_name("lake_prefix"): self.names.lake_prefix,
        }

    def drain_env(self) -> dict[str, str]:
        return {
            **self.common_env(),
            env_name("bucket"): self.names.bucket,
            env_name("visibility_timeout_seconds"): str(self.visibility_timeout),
            **self.passed_on(DRAIN_SETTINGS),
        }

    def collector_options(self) -> dict[tuple[str, str], str]:
        variables = {
            **self.common_env(),
            env_name("trusted_proxy_hops"): "1",  # Beanstalk's nginx is the one proxy
            **self.passed_on(COLLECTOR_SETTINGS),
        }
        options = {(beanstalk.ENV_NAMESPACE, k): v for k, v in variables.items()}
        options[(EB_LAUNCH, "IamInstanceProfile")] = self.names.collector_role
        options[(EB_LAUNCH, "DisableIMDSv1")] = "true"  # IMDSv2 only, which needs a launch template
        options[("aws:ec2:instances", "InstanceTypes")] = self.options.instance_type
        options[("aws:elasticbeanstalk:environment", "EnvironmentType")] = "SingleInstance"
        options[("aws:elasticbeanstalk:application", "Application Healthcheck URL")] = "/healthz"
        # The collector's JSON request logs (stdout, through the platform's web.stdout.log) go
        # to CloudWatch Logs and stay when the environment is terminated.
        options[(EB_LOGS, "StreamLogs")] = "true"
        options[(EB_LOGS, "RetentionInDays")] = str(self.options.log_retention_days)
        options[(EB_LOGS, "DeleteOnTerminate")] = "false"
        options[(EB_HEALTH, "SystemType")] = "enhanced"
        metrics = {"Environment": dict.fromkeys(EB_METRICS, 60)}
        options[(EB_HEALTH, "ConfigDocument")] = json.dumps(
            {"CloudWatchMetrics": metrics, "Version": 1}, sort_keys=True, separators=(",", ":")
        )
        return options

    def collector_policy(self) -> dict:
        """Send to the queue; stream its own logs (Beanstalk's agent runs with this profile)."""
        policy = iam.collector_policy(self.names)
        groups = self.names.log_group_arn_of(self.names.collector_log_groups)
        policy["Statement"].append(
            {
                "Sid": "StreamLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                "Resource": f"{groups}*",
            }
        )
        return policy

    def _set_queue_url(self, url: str) -> None:
        self.outputs.queue_url = url

    def _set_collector_url(self, url: str) -> None:
        self.outputs.collector_url = url

    def backup(self, destroying: bool) -> list[Resource]:
        """The replica and its replication, where --replicate-to asks (destroy finds it)."""
        aws, names = self.aws, self.names
        region = self.options.replicate_to
        if region:
            backup.check_region(aws, names, region)
        elif destroying:
            region = backup.replica_region(aws.client("s3"), names.bucket)
        if not region:
            return []
        replica = backup.ReplicaBucket(aws, names, region, self.options.delete_data)
        if destroying and not self.options.delete_data:
            # The kept lake keeps its backup too: replica, role and rule go with --delete-data.
            return [replica]
        policy = backup.replication_policy(names, names.replica_bucket(region))
        return [
            replica,
            iam.Role(aws, names.replication_role, "s3.amazonaws.com", policy),
            backup.Replication(aws, names, region),
        ]

    def compaction(self, code: bytes) -> list[Resource]:
        aws, names = self.aws, self.names
        group = compaction.log_group(names)
        return [
            iam.Role(aws, names.compact_function, "lambda.amazonaws.com", compaction.role_policy(names)),
            LogGroup(aws, names, group),
            DrainFunction(
                aws,
                names,
                code,
                compaction.MEMORY_MB,
                compaction.TIMEOUT_SECONDS,
                partial(compaction.environment, names),
                role=names.compact_function,
                name=names.compact_function,
                handler=compaction.HANDLER,
                description="LogDig daily compaction: yesterday's events as Parquet",
            ),
            Schedule(
                aws,
                names,
                compaction.SCHEDULE,
                rule=names.compact_rule,
                function=names.compact_function,
                description="Runs the LogDig daily compaction",
            ),
        ]

    def operations(self, collector: bool) -> list[Resource]:
        aws, names, opts = self.aws, self.names, self.options
        return [
            Topic(aws, names, opts.alarm_email),
            Alarms(aws, names, opts.thresholds, collector),
            Dashboard(aws, names, collector),
            Budget(aws, names, opts.monthly_budget),
        ]

    def resources(
        self,
        lambda_code: bytes,
        bundle: bytes | None,
        collector: bool,
        compact_code: bytes | None = None,
        destroying: bool = False,
    ) -> list[Resource]:
        """In creation order; destroy walks it backwards (and needs no code or bundle)."""
        aws, names, opts = self.aws, self.names, self.options
        dlq_arn = names.queue_arn(names.dead_letter_queue)
        queue_attributes = partial(
            event_queue_attributes, self.settings.max_message_bytes, self.visibility_timeout, dlq_arn
        )
        found: list[Resource] = [
            LakeBucket(aws, names, opts.expire_events_days, opts.delete_data, opts.noncurrent_days),
            *self.backup(destroying),
            QueueResource(aws, names.dead_letter_queue, dead_letter_attributes),
            QueueResource(aws, names.queue, queue_attributes, self._set_queue_url),
            iam.Role(aws, names.drain_role, "lambda.amazonaws.com", iam.drain_policy(names)),
            LogGroup(aws, names),
            DrainFunction(
                aws,
                names,
                lambda_code,
                opts.lambda_memory_mb,
                opts.lambda_timeout_seconds,
                self.drain_env,
            ),
            Schedule(aws, names, opts.schedule),
            athena.GlueDatabase(aws, names),
            athena.GlueTable(aws, names),
            athena.Workgroup(aws, names),
        ]
        if compact_code is not None:
            found += self.compaction(compact_code)
        found += self.operations(collector)
        if not collector:
            return found
        found += [
            iam.Role(
                aws,
                names.collector_role,
                "ec2.amazonaws.com",
                self.collector_policy(),
                instance_profile=True,
            ),
            beanstalk.Application(aws, names),
        ]
        label = ""
        if bundle is not None:
            version = beanstalk.Version(aws, names, bundle)
            found.append(version)
            label = version.version_label
        environment = beanstalk.Environment(
            aws, names, label, self.collector_options, self._set_collector_url
        )
        return found + [environment]

    def plan_deploy(self) -> Plan:
        with self.aws.reads_only():
            return self._plan_deploy()

    def plan_destroy(self) -> Plan:
        # Everything deploy may have made, collector included, newest first.
        with self.aws.reads_only():
            # A service name too long for a Beanstalk environment never had a collector.
            everything = self.resources(
                b"", None, collector=self.names.environment_fits, compact_code=b"", destroying=True
            )
            return build_plan(list(reversed(everything)), destroying=True)

    def compact_code(self) -> bytes | None:
        if not self.options.compaction:
            return None
        wheel = self.options.duckdb_wheel or compaction.fetch_duckdb_wheel(self.root)
        return compaction.lambda_zip(self.root, wheel)

    def _plan_deploy(self) -> Plan:
        code, compact_code = bundles.lambda_zip(self.root), self.compact_code()
        if self.options.skip_collector:
            return build_plan(self.resources(code, None, collector=False, compact_code=compact_code))
        bundle = bundles.beanstalk_bundle(self.root)
        return build_plan(self.resources(code, bundle, collector=True, compact_code=compact_code))

    def report(self, out: TextIO) -> None:
        names = self.names
        url = self.outputs.collector_url or "https://YOUR-COLLECTOR"
        token = next(iter(self.settings.tokens), "")
        token_attr = f' data-token="{token}"' if token else ""
        out.write(f"lake: {names.lake_location}\n")
        out.write(f"queue: {self.outputs.queue_url}\n")
        if self.outputs.collector_url:
            out.write(f"collector: {url}\n")
        else:
            out.write(
                "collector: not deployed here; run it with "
                f"LOGDIG_QUEUE_URL={self.outputs.queue_url} LOGDIG_AWS_REGION={names.region} "
                f"and credentials allowed sqs:SendMessage on {names.queue_arn(names.queue)}\n"
            )
        out.write(f'script tag: <script async src="{url}/clickTracker.js"{token_attr}></script>\n')
        out.write(f"athena table: {names.database}.{names.table} (workgroup {names.workgroup})\n")
        out.write(f"alarms: sns topic {names.alarm_topic}; dashboard: {names.dashboard}\n")
