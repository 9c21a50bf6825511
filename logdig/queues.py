"""The message queue on SQS, and the factory that picks SQS or the local queue from the settings."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence

from botocore.exceptions import ClientError

from config import Settings
from logdig import aws
from logdig.errors import QueueUnavailable
from logdig.local_queue import LocalQueue
from logdig.message_queue import Message, Queue

_DEFAULTS = Settings()


def retry_entries(call: Callable[[list[int]], list[int]], count: int, deadline: float,
                  attempt_seconds: float = 0, sleep: Callable[[float], None] = time.sleep,
                  clock: Callable[[], float] = time.monotonic) -> None:
    """Run `call(pending indices) -> failed indices` until none fail or the deadline passes.

    An attempt that raises QueueUnavailable (unreachable, timed out, throttled) is retried like
    failed entries. Another attempt starts only if it can end by the deadline (`attempt_seconds`
    is the longest one can take), so a stalled queue costs the deadline and no more.
    """
    pending = list(range(count))
    delay = 0.05
    while True:
        error = None
        try:
            pending = call(pending)
        except QueueUnavailable as exc:
            if not _transient(exc):
                raise
            error = exc
        else:
            if not pending:
                return
        if clock() + delay + attempt_seconds > deadline:
            raise error or QueueUnavailable(
                f"{len(pending)} of {count} batch entries failed until the deadline")
        sleep(delay)
        delay = min(delay * 2, 1.0)


def _transient(exc: QueueUnavailable) -> bool:
    """Worth another attempt: no answer, a timeout, throttling or a 5xx (not a missing queue or a
    refused permission, which the next attempt would meet again)."""
    cause = exc.__cause__
    if not isinstance(cause, ClientError):
        return True
    status = cause.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 500)
    return status >= 500 or "Throttl" in aws.error_code(cause) or status == 429


class SqsQueue:
    """Amazon SQS (or any SQS-compatible endpoint set through AWS_ENDPOINT_URL_SQS)."""

    def __init__(self, url: str, sqs_client, retry_seconds: float = _DEFAULTS.queue_retry_seconds,
                 client_for: Callable[[float], object] | None = None):
        """`sqs_client` makes the calls (None: one built by client_for). `client_for(seconds)`
        builds clients whose one attempt takes at most that long (aws.queue_client_config): for
        the sends, the ping's short bound and the long poll's longer one. Without it, attempts
        have no known bound and the deadline is checked between them only."""
        self.url = url
        self.retry_seconds = retry_seconds
        # Half the deadline per attempt: a stalled first attempt leaves time to answer 503, a
        # refused connection leaves time for several quick retries.
        self.attempt_seconds = retry_seconds / 2
        self._client_for = client_for
        self._clients: dict[float, object] = {}
        self.sqs = sqs_client or self._client(self.attempt_seconds)

    def _client(self, seconds: float):
        if self._client_for is None:
            return self.sqs
        if seconds not in self._clients:
            self._clients[seconds] = self._client_for(seconds)
        return self._clients[seconds]

    def _batch(self, operation: str, entries: list[dict], deadline: float | None = None) -> None:
        def attempt(indices: list[int]) -> list[int]:
            batch = [entries[i] for i in indices]
            with aws.translate(QueueUnavailable, f"SQS {operation} on {self.url}"):
                reply = getattr(self.sqs, operation)(QueueUrl=self.url, Entries=batch)
            return [int(failed["Id"]) for failed in reply.get("Failed", [])]

        if deadline is None:
            deadline = time.monotonic() + self.retry_seconds
        bound = self.attempt_seconds if self._client_for else 0
        retry_entries(attempt, len(entries), deadline, bound)

    def send_batch(self, bodies: Sequence[str], deadline: float | None = None) -> None:
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]
        self._batch("send_message_batch", entries, deadline)

    def receive(self, max_messages: int = 10, wait_seconds: float = 0) -> list[Message]:
        # The long poll may hold the answer for wait_seconds: its client waits that much longer.
        sqs = self._client(self.attempt_seconds + int(wait_seconds))
        with aws.translate(QueueUnavailable, f"SQS receive on {self.url}"):
            reply = sqs.receive_message(
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

    def _attributes(self, names: list[str], sqs=None) -> dict:
        with aws.translate(QueueUnavailable, f"SQS attributes of {self.url}"):
            reply = (sqs or self.sqs).get_queue_attributes(QueueUrl=self.url, AttributeNames=names)
        return reply["Attributes"]

    def depth(self) -> int:
        return int(self._attributes(["ApproximateNumberOfMessages"])["ApproximateNumberOfMessages"])

    def visibility_timeout(self) -> float:
        return float(self._attributes(["VisibilityTimeout"])["VisibilityTimeout"])

    def ping(self) -> None:
        """Raise QueueUnavailable unless SQS answers within aws.PING_SECONDS (one attempt)."""
        try:
            self._attributes(["ApproximateNumberOfMessages"], self._client(aws.PING_SECONDS))
        except QueueUnavailable as exc:
            # A collector role may only send: SQS refusing the read still proves it answers.
            if aws.error_code(exc.__cause__) not in ("AccessDenied", "AccessDeniedException"):
                raise


def make_queue(settings: Settings) -> Queue:
    if settings.local_queue:
        return LocalQueue(settings.queue_path, settings.visibility_timeout_seconds,
                          busy_timeout=settings.queue_retry_seconds)

    session = aws.session_for("sqs")  # the send, ping and long-poll clients share its models
    lock = threading.Lock()  # a session is not thread-safe: two /readyz may build the ping's at once

    def client_for(seconds: float):
        with lock:
            return aws.client("sqs", settings.aws_region, aws.queue_client_config(seconds), session)

    return SqsQueue(settings.queue_url, None, settings.queue_retry_seconds, client_for)
