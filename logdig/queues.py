"""The message queue on SQS, and the factory that picks SQS or the local queue from the settings."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence

from botocore import xform_name
from botocore.awsrequest import AWSRequest
from botocore.endpoint import convert_to_response_dict
from botocore.exceptions import ClientError
from botocore.parsers import create_parser

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


class LeanCall:
    """One operation of a botocore client, its later calls sent without botocore's per-call
    pipeline, for the collector's SendMessageBatch: its event emits (parameter build, endpoint
    rules, checksums, retry bookkeeping, history), the serializer's walk over the model and the
    request's assembly cost ~0.3-0.6 ms of a ~1.4 ms call (thread CPU, against moto's server on
    loopback, 3 runs of 300 calls each way).

    The first call goes through the client as usual, and what it sent is kept: the URL and the
    headers the client's endpoint rules, serializer and user agent gave, and the signing context
    (SQS's endpoint rules depend on the client's region and settings, not on a call's
    parameters).
    Each later call builds the same request with the same JSON body the client's serializer
    writes, has the client's own request signer sign it (its credentials, refreshed as they
    expire), lets the client's `before-send` handlers answer it (moto's in-process mock, a
    recorder), sends it through the client's HTTP session (its timeouts, pool, proxies and TLS
    settings, its connection errors), and parses the answer with the client's protocol parser:
    an error answer raises the ClientError subclass the client would raise, with its message
    (SQS's query-compatible error codes included). Retries stay with the caller (the queue's
    clients make one attempt: aws.queue_client_config)."""

    # Set per call by botocore's retry handler and signer, or (X-Amzn-Trace-Id, inside a Lambda
    # invocation) from that invocation's trace: not part of the kept request.
    PER_CALL_HEADERS = {"authorization", "x-amz-date", "x-amz-security-token", "content-length",
                        "amz-sdk-invocation-id", "amz-sdk-request", "x-amz-content-sha256",
                        "x-amzn-trace-id"}

    def __init__(self, client, operation: str):
        self.client = client
        self.operation = operation
        self.model = client.meta.service_model.operation_model(operation)
        self.parser = create_parser(self.model.service_model.resolved_protocol)
        service_id = self.model.service_model.service_id.hyphenize()
        self._before_send = f"before-send.{service_id}.{operation}"
        self._after_call = f"after-call.{service_id}.{operation}"
        self._needs_retry = f"needs-retry.{service_id}.{operation}"
        self._kept: tuple[str, str, dict, dict] | None = None  # method, url, headers, context
        self._lock = threading.Lock()

    def __call__(self, **params) -> dict:
        if self._kept is None:
            return self._first(params)
        method, url, headers, context = self._kept
        request = AWSRequest(method=method, url=url, headers=dict(headers),
                             data=json.dumps(params).encode("utf-8"))
        request.context = {**context, "retries": {"attempt": 1}}
        self.client._request_signer.sign(self.operation, request)
        endpoint = self.client._endpoint
        prepared = endpoint.prepare_request(request)
        answers = [answer for _, answer in self.client.meta.events.emit(self._before_send,
                                                                       request=prepared)]
        http = next((answer for answer in answers if answer is not None), None)
        if http is None:
            http = endpoint.http_session.send(prepared)
        return self._parsed(http, request)

    def _first(self, params: dict) -> dict:
        """The call through the client, keeping the request it sent."""
        def keep(request, **_):
            if self._kept is None:
                # As the client built them: its endpoint encodes the values to bytes to send.
                headers = {name: value.decode() if isinstance(value, bytes) else value
                           for name, value in request.headers.items()
                           if name.lower() not in self.PER_CALL_HEADERS}
                context = {k: v for k, v in request.context.items() if k != "retries"}
                self._kept = (request.method, request.url, headers, context)

        events = self.client.meta.events
        with self._lock:
            unique = f"logdig-lean-{id(self)}"
            events.register(self._before_send, keep, unique_id=unique)
            try:
                return getattr(self.client, xform_name(self.operation))(**params)
            finally:
                events.unregister(self._before_send, unique_id=unique)

    def _parsed(self, http, request) -> dict:
        """The answer as the client gives it (an error raised as the client raises it)."""
        response = convert_to_response_dict(http, self.model)
        parsed = self.parser.parse(response, self.model.output_shape)
        error = parsed.get("Error", {}).get("Code") if http.status_code >= 300 else None
        shape = error and self.model.service_model.shape_for_error_code(error)
        if shape is not None:  # as botocore's endpoint adds a modeled error's fields
            parsed.update(self.parser.parse(response, shape))
        # The client's one attempt: its retry handler notes that in the answer's metadata
        # (MaxAttemptsReached), and SQS's after-call handler picks an error's query-compatible
        # code. Retries stay the caller's: this returns or raises after one attempt.
        events = self.client.meta.events
        events.emit(self._needs_retry, response=(http, parsed), endpoint=self.client._endpoint,
                    operation=self.model, attempts=1, caught_exception=None,
                    request_dict={"context": request.context})
        if "ResponseMetadata" in parsed:
            parsed["ResponseMetadata"]["RetryAttempts"] = 0
        context = request.context
        events.emit(self._after_call, http_response=http, parsed=parsed, model=self.model,
                    context=context)
        if http.status_code < 300:
            return parsed
        code = context.get("error_code_override") or parsed.get("Error", {}).get("Code")
        raise self.client.exceptions.from_code(code)(parsed, self.operation)


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
        # The collector's sends (the clients it builds: make_queue); a client passed in (a test's
        # stub or fake) is called as it is.
        self._send = LeanCall(self.sqs, "SendMessageBatch") if sqs_client is None else None

    def _client(self, seconds: float):
        if self._client_for is None:
            return self.sqs
        if seconds not in self._clients:
            self._clients[seconds] = self._client_for(seconds)
        return self._clients[seconds]

    def _batch(self, operation: str, entries: list[dict], deadline: float | None = None) -> None:
        def attempt(indices: list[int]) -> list[int]:
            batch = [entries[i] for i in indices]
            call = self._send if operation == "send_message_batch" and self._send else \
                getattr(self.sqs, operation)
            with aws.translate(QueueUnavailable, f"SQS {operation} on {self.url}"):
                reply = call(QueueUrl=self.url, Entries=batch)
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
