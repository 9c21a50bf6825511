"""A CloudWatch dashboard named after the service: the queue, the batcher, the collector."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from deploy.aws import Aws, absent_as_none
from deploy.names import Names
from deploy.plan import Action
from lambda_sqs_to_s3 import metrics

WIDTH, HEIGHT = 12, 6


def _widget(title: str, region: str, series: list[list], stat: str, n: int) -> dict:
    return {
        "type": "metric",
        "x": (n % 2) * WIDTH,
        "y": (n // 2) * HEIGHT,
        "width": WIDTH,
        "height": HEIGHT,
        "properties": {
            "title": title,
            "region": region,
            "stat": stat,
            "period": 300,
            "view": "timeSeries",
            "metrics": series,
        },
    }


def body(names: Names, collector: bool) -> dict:
    """Widgets in reading order: is data waiting, is it moving, is the batcher healthy, the collector."""
    queue, dlq, env = names.queue, names.dead_letter_queue, names.environment if collector else ""
    batcher = [metrics.NAMESPACE, metrics.EVENTS_DRAINED, metrics.DIMENSION, names.service]
    panels = [
        (
            "Queue depth",
            "Maximum",
            [
                ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", queue],
                [
                    "AWS/SQS",
                    "ApproximateNumberOfMessagesVisible",
                    "QueueName",
                    dlq,
                    {"label": "dead letters"},
                ],
            ],
        ),
        (
            "Oldest message age (s)",
            "Maximum",
            [
                ["AWS/SQS", "ApproximateAgeOfOldestMessage", "QueueName", queue],
            ],
        ),
        (
            "Events drained",
            "Sum",
            [
                batcher,
                [metrics.NAMESPACE, metrics.DUPLICATES_DROPPED, metrics.DIMENSION, names.service],
                [metrics.NAMESPACE, metrics.BAD_MESSAGES, metrics.DIMENSION, names.service],
            ],
        ),
        (
            "Batcher duration (ms) and errors",
            "Maximum",
            [
                ["AWS/Lambda", "Duration", "FunctionName", names.function],
                ["AWS/Lambda", "Errors", "FunctionName", names.function, {"stat": "Sum", "yAxis": "right"}],
                [
                    "AWS/Lambda",
                    "Throttles",
                    "FunctionName",
                    names.function,
                    {"stat": "Sum", "yAxis": "right"},
                ],
            ],
        ),
    ]
    if collector:
        panels += [
            (
                "Collector requests and 5xx",
                "Sum",
                [
                    ["AWS/ElasticBeanstalk", "ApplicationRequestsTotal", "EnvironmentName", env],
                    ["AWS/ElasticBeanstalk", "ApplicationRequests5xx", "EnvironmentName", env],
                ],
            ),
            (
                "Collector latency p90 (s) and health",
                "Maximum",
                [
                    ["AWS/ElasticBeanstalk", "ApplicationLatencyP90", "EnvironmentName", env],
                    ["AWS/ElasticBeanstalk", "EnvironmentHealth", "EnvironmentName", env, {"yAxis": "right"}],
                ],
            ),
        ]
    widgets = [_widget(title, names.region, lines, stat, n) for n, (title, stat, lines) in enumerate(panels)]
    return {"widgets": widgets}


class Dashboard:
    def __init__(self, aws: Aws, names: Names, collector: bool):
        self.aws = aws
        self.names = names
        self.body = body(names, collector)
        self.label = f"cloudwatch dashboard {names.dashboard}"

    @property
    def cloudwatch(self) -> Any:
        return self.aws.client("cloudwatch")

    def read(self) -> dict | None:
        found = absent_as_none(
            lambda: self.cloudwatch.get_dashboard(DashboardName=self.names.dashboard), "ResourceNotFound"
        )
        return found and json.loads(found["DashboardBody"])

    def diff(self, current: dict | None) -> list[Action]:
        if current == self.body:
            return []
        verb = "create" if current is None else "update"
        detail = ", ".join(w["properties"]["title"] for w in self.body["widgets"])
        run = partial(
            self.cloudwatch.put_dashboard,
            DashboardName=self.names.dashboard,
            DashboardBody=json.dumps(self.body),
        )
        return [Action(self.label, verb, detail, run)]

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        run = partial(self.cloudwatch.delete_dashboards, DashboardNames=[self.names.dashboard])
        return [Action(self.label, "delete", "", run)]
