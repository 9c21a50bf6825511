"""Alarms on the pipeline's health, all sending to one SNS topic an e-mail address can follow.

The batcher's own figures come from its EMF log line (lambda_sqs_to_s3/metrics.py); the rest are
the metrics SQS, Lambda and Beanstalk publish anyway. Each alarm is one CloudWatch alarm named
<service>-<what>; deploy keeps them as given, destroy removes every alarm of that prefix it made.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import partial
from typing import Any

from deploy.aws import Aws, absent_as_none
from deploy.names import Names
from deploy.plan import Action
from lambda_sqs_to_s3 import metrics

FIVE_MINUTES = 300
HOUR = 3600
DEGRADED = 20  # Beanstalk's EnvironmentHealth: 0 ok, 15 warning, 20 degraded, 25 severe
MANAGED_BY = "LogDig (setup_aws.py): "


@dataclass(frozen=True)
class Thresholds:
    oldest_message_minutes: int = 15
    no_events_hours: int = 6
    collector_5xx_percent: float = 5.0


class Topic:
    """The SNS topic every alarm (and the budget) notifies, with an optional e-mail subscriber."""

    def __init__(self, aws: Aws, names: Names, email: str | None):
        self.aws = aws
        self.names = names
        self.email = email
        self.label = f"sns topic {names.alarm_topic}"

    @property
    def sns(self) -> Any:
        return self.aws.client("sns")

    def policy(self) -> dict:
        """The owner's account may use the topic; AWS Budgets may publish to it, for this account."""
        arn, account = self.names.alarm_topic_arn, self.names.account
        return {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "Owner",
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:{self.names.partition}:iam::{account}:root"},
                    "Action": ["sns:Publish", "sns:Subscribe", "sns:GetTopicAttributes"],
                    "Resource": arn,
                },
                {
                    "Sid": "BudgetsPublish",
                    "Effect": "Allow",
                    "Principal": {"Service": "budgets.amazonaws.com"},
                    "Action": "sns:Publish",
                    "Resource": arn,
                    "Condition": {"StringEquals": {"aws:SourceAccount": account}},
                },
            ],
        }

    def read(self) -> dict | None:
        arn = self.names.alarm_topic_arn
        attributes = absent_as_none(
            lambda: self.sns.get_topic_attributes(TopicArn=arn)["Attributes"], "NotFound"
        )
        if attributes is None:
            return None
        subscribers = []
        for page in self.sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=arn):
            subscribers += [s["Endpoint"] for s in page["Subscriptions"] if s["Protocol"] == "email"]
        return {"policy": json.loads(attributes.get("Policy", "{}")), "emails": subscribers}

    def diff(self, current: dict | None) -> list[Action]:
        actions = []
        if current is None:
            current = {"policy": None, "emails": []}
            actions.append(Action(self.label, "create", "alarm and budget notifications", self._create))
        if current["policy"] != self.policy():
            actions.append(Action(self.label, "update", "policy: this account, AWS Budgets", self._policy))
        if self.email and self.email not in current["emails"]:
            detail = f"e-mail {self.email} (AWS sends a confirmation link first)"
            actions.append(Action(f"sns subscription {self.email}", "create", detail, self._subscribe))
        return actions

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        delete = partial(self.sns.delete_topic, TopicArn=self.names.alarm_topic_arn)
        return [Action(self.label, "delete", "and its subscriptions", delete)]

    def _create(self) -> None:
        self.sns.create_topic(Name=self.names.alarm_topic)

    def _policy(self) -> None:
        policy = json.dumps(self.policy())
        self.sns.set_topic_attributes(
            TopicArn=self.names.alarm_topic_arn, AttributeName="Policy", AttributeValue=policy
        )

    def _subscribe(self) -> None:
        self.sns.subscribe(TopicArn=self.names.alarm_topic_arn, Protocol="email", Endpoint=self.email)


def _metric(namespace: str, name: str, dimensions: dict[str, str], stat: str, period: int) -> dict:
    return {
        "Namespace": namespace,
        "MetricName": name,
        "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
        "Statistic": stat,
        "Period": period,
    }


def _rate_5xx(environment: str, percent: float) -> dict:
    """5xx answers as a share of all requests: metric math over two Beanstalk metrics."""

    def stat(id_: str, name: str) -> dict:
        metric = {
            "Namespace": "AWS/ElasticBeanstalk",
            "MetricName": name,
            "Dimensions": [{"Name": "EnvironmentName", "Value": environment}],
        }
        return {
            "Id": id_,
            "MetricStat": {"Metric": metric, "Period": FIVE_MINUTES, "Stat": "Sum"},
            "ReturnData": False,
        }

    return {
        "Metrics": [
            stat("errors", "ApplicationRequests5xx"),
            stat("total", "ApplicationRequestsTotal"),
            {
                "Id": "rate",
                "Expression": "100 * errors / MAX([total, 1])",
                "Label": "5xx %",
                "ReturnData": True,
            },
        ],
        "Threshold": percent,
    }


def alarm_specs(names: Names, limits: Thresholds, collector: bool) -> dict[str, dict]:
    """alarm name -> put_metric_alarm parameters (without the name and actions)."""
    lam = {"FunctionName": names.function}
    batcher = {metrics.DIMENSION: names.service}
    specs = {
        "queue-oldest-message": {
            "AlarmDescription": f"events have waited over {limits.oldest_message_minutes} minutes",
            **_metric(
                "AWS/SQS",
                "ApproximateAgeOfOldestMessage",
                {"QueueName": names.queue},
                "Maximum",
                FIVE_MINUTES,
            ),
            "Threshold": float(limits.oldest_message_minutes * 60),
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
        },
        "dead-letter-queue": {
            "AlarmDescription": "messages the batcher failed 5 times are in the dead-letter queue",
            **_metric(
                "AWS/SQS",
                "ApproximateNumberOfMessagesVisible",
                {"QueueName": names.dead_letter_queue},
                "Maximum",
                FIVE_MINUTES,
            ),
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
        },
        "drain-errors": {
            "AlarmDescription": "the batcher Lambda failed",
            **_metric("AWS/Lambda", "Errors", lam, "Sum", FIVE_MINUTES),
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
        },
        "drain-throttles": {
            "AlarmDescription": "the batcher Lambda was throttled",
            **_metric("AWS/Lambda", "Throttles", lam, "Sum", FIVE_MINUTES),
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
        },
        "bad-messages": {
            "AlarmDescription": f"the batcher wrote messages it could not read under {names.bad_prefix}",
            **_metric(metrics.NAMESPACE, metrics.BAD_MESSAGES, batcher, "Sum", FIVE_MINUTES),
            "Threshold": 0.0,
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 1,
        },
        "no-events": {
            "AlarmDescription": f"no event drained for {limits.no_events_hours} hours (or no batcher run)",
            **_metric(metrics.NAMESPACE, metrics.EVENTS_DRAINED, batcher, "Sum", HOUR),
            "Threshold": 1.0,
            "ComparisonOperator": "LessThanThreshold",
            "EvaluationPeriods": limits.no_events_hours,
            "DatapointsToAlarm": limits.no_events_hours,
            "TreatMissingData": "breaching",  # a batcher that stopped running emits nothing
        },
    }
    if collector:
        environment = names.environment
        specs["collector-health"] = {
            "AlarmDescription": "the collector's Beanstalk health is degraded or worse",
            **_metric(
                "AWS/ElasticBeanstalk",
                "EnvironmentHealth",
                {"EnvironmentName": environment},
                "Maximum",
                FIVE_MINUTES,
            ),
            "Threshold": float(DEGRADED),
            "ComparisonOperator": "GreaterThanOrEqualToThreshold",
            "EvaluationPeriods": 2,
        }
        specs["collector-5xx"] = {
            "AlarmDescription": f"over {limits.collector_5xx_percent}% of collector answers are 5xx",
            **_rate_5xx(environment, limits.collector_5xx_percent),
            "ComparisonOperator": "GreaterThanThreshold",
            "EvaluationPeriods": 2,
        }
    for spec in specs.values():
        spec["AlarmDescription"] = MANAGED_BY + spec["AlarmDescription"]
        spec.setdefault("TreatMissingData", "notBreaching")
        spec.setdefault("DatapointsToAlarm", spec["EvaluationPeriods"])
    return specs


def _comparable(alarm: dict) -> dict:
    """The fields deploy sets, as CloudWatch echoes them (metric math reduced to its parts)."""
    keep = (
        "AlarmDescription",
        "Namespace",
        "MetricName",
        "Statistic",
        "Period",
        "Threshold",
        "ComparisonOperator",
        "EvaluationPeriods",
        "DatapointsToAlarm",
        "TreatMissingData",
        "AlarmActions",
        "OKActions",
    )
    found = {key: alarm.get(key) for key in keep}
    found["Threshold"] = float(found["Threshold"] or 0)
    found["Dimensions"] = sorted((d["Name"], d["Value"]) for d in alarm.get("Dimensions") or [])
    found["Metrics"] = [
        (
            m.get("Id"),
            m.get("Expression"),
            m.get("MetricStat", {}).get("Metric", {}).get("MetricName"),
            m.get("MetricStat", {}).get("Stat"),
        )
        for m in alarm.get("Metrics") or []
    ]
    return found


class Alarms:
    def __init__(self, aws: Aws, names: Names, limits: Thresholds, collector: bool):
        self.aws = aws
        self.names = names
        self.specs = {
            names.alarm(what): {
                **spec,
                "AlarmActions": [names.alarm_topic_arn],
                "OKActions": [names.alarm_topic_arn],
            }
            for what, spec in alarm_specs(names, limits, collector).items()
        }
        self.label = f"cloudwatch alarms {names.alarm('*')}"

    @property
    def cloudwatch(self) -> Any:
        return self.aws.client("cloudwatch")

    def read(self) -> dict[str, dict]:
        found = {}
        pages = self.cloudwatch.get_paginator("describe_alarms")
        for page in pages.paginate(AlarmNamePrefix=self.names.alarm(""), AlarmTypes=["MetricAlarm"]):
            for alarm in page["MetricAlarms"]:
                if (alarm.get("AlarmDescription") or "").startswith(MANAGED_BY):  # ours only
                    found[alarm["AlarmName"]] = alarm
        return found

    def diff(self, current: dict[str, dict]) -> list[Action]:
        actions = []
        for name, spec in self.specs.items():
            if name in current and _comparable(current[name]) == _comparable(spec):
                continue
            verb = "update" if name in current else "create"
            detail = spec["AlarmDescription"].removeprefix(MANAGED_BY)
            run = partial(self.cloudwatch.put_metric_alarm, AlarmName=name, **spec)
            actions.append(Action(f"cloudwatch alarm {name}", verb, detail, run))
        # Alarms of ours not wanted now (the collector's, on a --skip-collector run) stay:
        # that run leaves the collector alone too. Destroy removes them all.
        return actions

    def remove(self, current: dict[str, dict]) -> list[Action]:
        if not current:
            return []
        run = partial(self.cloudwatch.delete_alarms, AlarmNames=sorted(current))
        return [Action(self.label, "delete", ", ".join(sorted(current)), run)]
