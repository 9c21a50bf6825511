"""The event queue and its dead-letter queue."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

from deploy.aws import Aws, absent_as_none
from deploy.plan import Action

NO_QUEUE = ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist")
FOURTEEN_DAYS = 14 * 24 * 3600
LONG_POLL_SECONDS = 20
MAX_RECEIVES = 5


def _normal(name: str, value: str) -> Any:
    """Attribute values as comparable data: SQS may echo JSON with other spacing or types."""
    if name == "RedrivePolicy":
        policy = json.loads(value)
        return {key: str(item) for key, item in policy.items()}
    return str(value)


class QueueResource:
    """An SQS queue as a deployed resource (not logdig's message queue interface), whose
    attributes deploy keeps as given; `on_url` learns its URL."""

    def __init__(
        self,
        aws: Aws,
        name: str,
        attributes: Callable[[], dict[str, str]],
        on_url: Callable[[str], None] = lambda url: None,
    ):
        self.aws = aws
        self.name = name
        self.attributes = attributes
        self.on_url = on_url
        self.label = f"sqs queue {name}"

    @property
    def sqs(self) -> Any:
        return self.aws.client("sqs")

    def read(self) -> dict | None:
        found = absent_as_none(partial(self.sqs.get_queue_url, QueueName=self.name), *NO_QUEUE)
        if found is None:
            return None
        url = found["QueueUrl"]
        self.on_url(url)
        found = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        return {"url": url, "attributes": found.get("Attributes", {})}

    def changed(self, current: dict) -> dict[str, str]:
        have = current["attributes"]
        return {
            name: value
            for name, value in self.attributes().items()
            if name not in have or _normal(name, have[name]) != _normal(name, value)
        }

    def diff(self, current: dict | None) -> list[Action]:
        if current is None:
            return [Action(self.label, "create", self._summary(self.attributes()), self._create)]
        changed = self.changed(current)
        if not changed:
            return []
        url = current["url"]
        return [
            Action(
                self.label,
                "update",
                self._summary(changed),
                lambda: self.sqs.set_queue_attributes(QueueUrl=url, Attributes=changed),
            )
        ]

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        url = current["url"]
        detail = "waiting messages are lost: drain first"
        return [Action(self.label, "delete", detail, lambda: self.sqs.delete_queue(QueueUrl=url))]

    def _create(self) -> None:
        url = self.sqs.create_queue(QueueName=self.name, Attributes=self.attributes())["QueueUrl"]
        self.on_url(url)

    @staticmethod
    def _summary(attributes: dict[str, str]) -> str:
        return ", ".join(f"{name}={value}" for name, value in sorted(attributes.items()))


def dead_letter_attributes() -> dict[str, str]:
    return {"MessageRetentionPeriod": str(FOURTEEN_DAYS), "SqsManagedSseEnabled": "true"}


def event_queue_attributes(
    max_message_bytes: int, visibility_timeout: int, dead_letter_arn: str
) -> dict[str, str]:
    """Sized for the collector's packing, hidden long enough for a Lambda run, long polled."""
    redrive = {"deadLetterTargetArn": dead_letter_arn, "maxReceiveCount": MAX_RECEIVES}
    return {
        "MaximumMessageSize": str(max_message_bytes),
        "VisibilityTimeout": str(visibility_timeout),
        "ReceiveMessageWaitTimeSeconds": str(LONG_POLL_SECONDS),
        "MessageRetentionPeriod": str(FOURTEEN_DAYS),
        "RedrivePolicy": json.dumps(redrive),
        "SqsManagedSseEnabled": "true",
    }
