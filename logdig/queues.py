"""The message queue on SQS, and the factory that picks SQS or the local queue from the settings."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from config import Settings
from logdig import aws
from logdig.errors import QueueUnavailable
from logdig.local_queue import LocalQueue
from logdig.message_queue import Message, Queue

_DEFAULTS = Settings()


def retry_entries(call: Callable[[list[int]], list[int]], count: int, deadline: float,
                  sleep: Callable[[float], None] = time.sleep) -> None:
    """Run `call(pending indices) -> failed indices` until none fail or the deadline passes."""
    pending = list(range(count))
    delay = 0.05
    while True:
        pending = call(pending)
        if not pending:
            return
        if time.monotonic() + delay > deadline:
            raise QueueUnavailable(f"{len(pending)} of {count} batch entries failed until the deadline")
        sleep(delay)
        delay = min(delay * 2, 1.0)


class SqsQueue:
    """Amazon SQS (or any SQS-compatible endpoint set through AWS_ENDPOINT_URL_SQS)."""

    def __init__(self, url: str, sqs_client, retry_seconds: float = _DEFAULTS.queue_retry_seconds):
        self.url = url
        self.sqs = sqs_client
        self.retry_seconds = retry_seconds

    def _batch(self, operation: str, entries: list[dict]) -> None:
        def attempt(indices: list[int]) -> list[int]:
            batch = [entries[i] for i in indices]
            with aws.translate(QueueUnavailable, f"SQS {operation} on {self.url}"):
                reply = getattr(self.sqs, operation)(QueueUrl=self.url, Entries=batch)
            return [int(failed["Id"]) for failed in reply.get("Failed", [])]

        retry_entries(attempt, len(entries), time.monotonic() + self.retry_seconds)

    def send_batch(self, bodies: Sequence[str]) -> None:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        self._batch("send_message_batch", entries)

    def receive(self, max_messages: int = 10, wait_seconds: float = 0) -> list[Message]:
        with aws.translate(QueueUnavailable, f"SQS receive on {self.url}"):
            reply = self.sqs.receive_message(
                QueueUrl=self.url, MaxNumberOfMessages=max_messages,
                WaitTimeSeconds=int(wait_seconds), MessageSystemAttributeNames=["SentTimestamp"])
        return [
            Message(m["MessageId"], m["ReceiptHandle"], m["Body"],
                    int(m["Attributes"]["SentTimestamp"]) / 1000)
            for m in reply.get("Messages", [])
        ]

    def delete(self, messages: Sequence[Message]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": m.receipt} for i, m in enumerate(messages)]
        self._batch("delete_message_batch", entries)

    def release(self, messages: Sequence[Message]) -> None:
        entries = [{"Id": str(i), "ReceiptHandle": m.receipt, "VisibilityTimeout": 0}
                   for i, m in enumerate(messages)]
        self._batch("change_message_visibility_batch", entries)

    def depth(self) -> int:
        with aws.translate(QueueUnavailable, f"SQS attributes of {self.url}"):
            reply = self.sqs.get_queue_attributes(
                QueueUrl=self.url, AttributeNames=["ApproximateNumberOfMessages"])
        return int(reply["Attributes"]["ApproximateNumberOfMessages"])

    def ping(self) -> None:
        try:
            self.depth()
        except QueueUnavailable as exc:
            # A collector role may only send: SQS refusing the read still proves it answers.
            if aws.error_code(exc.__cause__) not in ("AccessDenied", "AccessDeniedException"):
                raise


def make_queue(settings: Settings) -> Queue:
    if settings.local_queue:
        return LocalQueue(settings.queue_path, settings.visibility_timeout_seconds,
                          busy_timeout=settings.queue_retry_seconds)
    sqs = aws.client("sqs", settings.aws_region)
    return SqsQueue(settings.queue_url, sqs, settings.queue_retry_seconds)
