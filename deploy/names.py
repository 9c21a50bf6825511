"""Every AWS name and ARN, derived from LOGDIG_SERVICE_NAME, the account and the region."""

from __future__ import annotations

from dataclasses import dataclass

from config import Settings
from deploy.errors import DeployError

ATHENA_RESULTS_PREFIX = "athena-results/"
TABLE = "events"
BUCKET_MAX = 63
EB_ENVIRONMENT_MAX = 40


@dataclass(frozen=True)
class Names:
    service: str
    account: str
    region: str
    partition: str
    bucket: str
    lake_prefix: str
    bad_prefix: str

    @classmethod
    def build(cls, settings: Settings, account: str, region: str, partition: str) -> Names:
        # The account and region make the default bucket name globally unique.
        bucket = settings.bucket or f"{settings.service_name}-lake-{account}-{region}"
        if len(bucket) > BUCKET_MAX:
            raise DeployError(
                f"s3 bucket {bucket}",
                f"name longer than {BUCKET_MAX} characters; shorten LOGDIG_SERVICE_NAME "
                "or name the bucket with LOGDIG_BUCKET",
            )
        return cls(
            service=settings.service_name,
            account=account,
            region=region,
            partition=partition,
            bucket=bucket,
            lake_prefix=settings.lake_prefix,
            bad_prefix=settings.bad_prefix,
        )

    def _arn(self, service: str, resource: str, *, regional: bool = True) -> str:
        region = self.region if regional else ""
        account = self.account if service != "s3" else ""
        return f"arn:{self.partition}:{service}:{region}:{account}:{resource}"

    # SQS
    @property
    def queue(self) -> str:
        return f"{self.service}-events"

    @property
    def dead_letter_queue(self) -> str:
        return f"{self.service}-events-dlq"

    def queue_arn(self, name: str) -> str:
        return self._arn("sqs", name)

    # S3
    @property
    def bucket_arn(self) -> str:
        return self._arn("s3", self.bucket, regional=False)

    @property
    def lake_location(self) -> str:
        return f"s3://{self.bucket}/{self.lake_prefix}"

    @property
    def athena_results(self) -> str:
        return f"s3://{self.bucket}/{ATHENA_RESULTS_PREFIX}"

    # Lambda, its logs and its schedule
    @property
    def function(self) -> str:
        return f"{self.service}-drain"

    @property
    def function_arn(self) -> str:
        return self.lambda_arn(self.function)

    def lambda_arn(self, function: str) -> str:
        return self._arn("lambda", f"function:{function}")

    @property
    def log_group(self) -> str:
        return f"/aws/lambda/{self.function}"

    @property
    def log_group_arn(self) -> str:
        return self.log_group_arn_of(self.log_group)

    def log_group_arn_of(self, group: str) -> str:
        return self._arn("logs", f"log-group:{group}")

    @property
    def rule(self) -> str:
        return f"{self.service}-drain-schedule"

    @property
    def rule_arn(self) -> str:
        return self.rule_arn_of(self.rule)

    def rule_arn_of(self, rule: str) -> str:
        return self._arn("events", f"rule/{rule}")

    # IAM
    @property
    def drain_role(self) -> str:
        return f"{self.service}-drain"

    @property
    def collector_role(self) -> str:
        return f"{self.service}-collector"

    def role_arn(self, role: str) -> str:
        return f"arn:{self.partition}:iam::{self.account}:role/{role}"

    # Glue and Athena: a hyphen would need quoting in every query, so underscores.
    @property
    def database(self) -> str:
        return self.service.replace("-", "_")

    @property
    def table(self) -> str:
        return TABLE

    @property
    def workgroup(self) -> str:
        return self.service

    # Elastic Beanstalk
    @property
    def application(self) -> str:
        return self.service

    @property
    def environment_fits(self) -> bool:
        return len(f"{self.service}-collector") <= EB_ENVIRONMENT_MAX

    @property
    def environment(self) -> str:
        name = f"{self.service}-collector"
        if not self.environment_fits:
            raise DeployError(
                f"beanstalk environment {name}",
                f"name longer than {EB_ENVIRONMENT_MAX} characters; shorten LOGDIG_SERVICE_NAME",
            )
        return name

    # Operations (deploy/alarms.py, dashboard.py, budget.py, backup.py, compaction.py)
    @property
    def alarm_topic(self) -> str:
        return f"{self.service}-alarms"

    @property
    def alarm_topic_arn(self) -> str:
        return self._arn("sns", self.alarm_topic)

    def alarm(self, what: str) -> str:
        return f"{self.service}-{what}"

    @property
    def dashboard(self) -> str:
        return self.service

    @property
    def budget(self) -> str:
        return f"{self.service}-monthly"

    def replica_bucket(self, region: str) -> str:
        return f"{self.bucket[: BUCKET_MAX - len(region) - 9]}-replica-{region}"

    @property
    def replication_role(self) -> str:
        return f"{self.service}-replication"

    @property
    def compact_function(self) -> str:
        return f"{self.service}-compact"

    @property
    def compact_rule(self) -> str:
        return f"{self.service}-compact-schedule"

    @property
    def collector_log_groups(self) -> str:
        """Beanstalk streams instance logs to /aws/elasticbeanstalk/<environment>/<file>."""
        return f"/aws/elasticbeanstalk/{self.service}-collector/"
