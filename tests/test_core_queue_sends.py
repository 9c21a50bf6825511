"""The collector's SendMessageBatch (logdig.queues.LeanCall): after its first call, which goes
through the botocore client, it sends what the client sends and raises what the client raises,
against moto in-process and moto's server, with the clients the collector builds."""

from __future__ import annotations

import socket

import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from logdig import aws
from logdig.queues import LeanCall, SqsQueue
from tests.motoserver import point_boto3_at, running_moto

PER_CALL = {"authorization", "x-amz-date", "amz-sdk-invocation-id", "amz-sdk-request"}


def queue_client(seconds: float = 2.0, **config):
    """A queue client as make_queue builds it (the queue's session and client settings)."""
    base = aws.queue_client_config(seconds)
    return aws.client("sqs", "us-east-1", base.merge(Config(**config)), aws.session_for("sqs"))


def entries(*bodies: str) -> list[dict]:
    return [{"Id": str(i), "MessageBody": body} for i, body in enumerate(bodies)]


def signed(request) -> tuple:
    """What a request says, but for what changes per call: the method, URL, body and headers,
    and its signature's scope (region and service) and signed headers."""
    headers = {name.lower(): (value.decode() if isinstance(value, bytes) else value)
               for name, value in request.headers.items()}
    authorization = headers["authorization"]
    credential = authorization.split("Credential=")[1].split(",")[0].split("/")
    signed_headers = authorization.split("SignedHeaders=")[1].split(",")[0]
    kept = {name: value for name, value in headers.items() if name not in PER_CALL}
    return request.method, request.url, request.body, kept, credential[2:], signed_headers


class RawBody:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


@pytest.mark.parametrize("region", ["us-east-1", "cn-north-1", "us-gov-west-1"])
@pytest.mark.parametrize("fips", [False, True])
def test_later_calls_send_what_the_client_sends(aws_credentials, monkeypatch, region, fips):
    # GIVEN a queue client of the collector's kind, its requests answered and recorded
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    client = queue_client(use_fips_endpoint=fips)
    seen = []

    def answer(request, **_):
        seen.append(signed(request))
        return AWSResponse(request.url, 200, {}, RawBody(b'{"Successful":[{"Id":"0"}]}'))

    client.meta.events.register("before-send.sqs", answer)
    built = []  # botocore's per-call pipeline, from its first event
    client.meta.events.register("before-parameter-build.sqs", lambda **_: built.append(1))
    call = LeanCall(client, "SendMessageBatch")
    url = f"https://sqs.{region}.amazonaws.com/1/q"
    # WHEN it sends through the client, then on its own, then the client once more
    replies = [send(QueueUrl=url, Entries=entries('{"a":"é"}\n', "b\n"))
               for send in (call, call, client.send_message_batch)]
    # ...and each answer is the client's
    assert replies[0] == replies[1] == replies[2]
    assert replies[1]["Successful"] == [{"Id": "0"}]
    # THEN each request is the client's: URL, body, headers, signed for the same region/service
    assert len(seen) == 3
    assert seen[1] == seen[0] == seen[2]
    assert len(built) == 2  # the second went without it


def errors_of(send, url: str, batch: list[dict]):
    with pytest.raises((ClientError, BotoCoreError)) as caught:
        send(QueueUrl=url, Entries=batch)
    error = caught.value
    response = dict(getattr(error, "response", {}))
    metadata = response.pop("ResponseMetadata", {})
    kept = ("HTTPStatusCode", "RetryAttempts", "MaxAttemptsReached")  # not its request id or date
    return type(error), str(error), response, {name: metadata.get(name) for name in kept}


def assert_same_answers(client, queue_url: str) -> None:
    call = LeanCall(client, "SendMessageBatch")
    call(QueueUrl=queue_url, Entries=entries("first\n"))  # through the client
    # Sent on its own: the messages arrive
    reply = call(QueueUrl=queue_url, Entries=entries("second\n", "third\n"))
    assert sorted(s["Id"] for s in reply["Successful"]) == ["0", "1"]
    got = client.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["first\n", "second\n", "third\n"]
    # Refused: the same exception, message and error as the client's (SQS's query-compatible
    # codes: a missing queue is QueueDoesNotExist, AWS.SimpleQueueService.NonExistentQueue)
    missing = queue_url.rsplit("/", 1)[0] + "/no-such-queue"
    twice = [{"Id": "x", "MessageBody": "a\n"}, {"Id": "x", "MessageBody": "b\n"}]
    for url, batch in ((missing, entries("a\n")), (queue_url, twice), (queue_url, [])):
        ours, theirs = errors_of(call, url, batch), errors_of(client.send_message_batch, url, batch)
        assert ours == theirs
        assert ours[0] is not ClientError  # a modelled error class, as the client raises
    assert errors_of(call, missing, entries("a\n"))[0] is client.exceptions.QueueDoesNotExist


def test_answers_are_the_clients_on_moto_in_process(mock_aws):
    client = queue_client()
    assert_same_answers(client, client.create_queue(QueueName="lean")["QueueUrl"])


@pytest.mark.wire
def test_answers_are_the_clients_on_motos_server(aws_credentials, monkeypatch):
    with running_moto() as moto:
        point_boto3_at(monkeypatch, moto)
        assert_same_answers(queue_client(), moto.create_queue())


@pytest.mark.wire
def test_an_unreachable_queue_raises_what_the_client_raises(aws_credentials, monkeypatch):
    # GIVEN an endpoint where nothing listens
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL_SQS", f"http://127.0.0.1:{port}")
    client = queue_client(0.5)
    call = LeanCall(client, "SendMessageBatch")
    url = f"http://127.0.0.1:{port}/1/q"
    first = errors_of(call, url, entries("a\n"))
    # WHEN a later call meets it too (its request was kept from the first)
    call._kept = call._kept or pytest.fail("the first call kept no request")
    # THEN the same error as the client's, which SqsQueue turns into QueueUnavailable
    assert errors_of(call, url, entries("a\n")) == first == errors_of(
        client.send_message_batch, url, entries("a\n"))


def test_the_collectors_queue_sends_through_it_and_a_given_client_as_it_is(mock_aws):
    # The clients make_queue builds (client_for) send through LeanCall; a client passed in (a
    # test's Stubber or fake) is called as it is.
    client = queue_client()
    url = client.create_queue(QueueName="q")["QueueUrl"]
    built = SqsQueue(url, None, client_for=lambda seconds: queue_client(seconds))
    given = SqsQueue(url, client)
    assert isinstance(built._send, LeanCall) and given._send is None
    built.send_batch(["a\n"])
    built.send_batch(["b\n", "c\n"])
    assert built._send._kept is not None
    got = client.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in got) == ["a\n", "b\n", "c\n"]


@pytest.mark.parametrize("status, headers, body", [
    (400, {}, b'{"__type":"com.amazonaws.sqs#RequestThrottled","message":"slow down"}'),
    (400, {"x-amzn-query-error": "AWS.SimpleQueueService.NonExistentQueue;Sender"},
     b'{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"gone"}'),
    (403, {}, b'{"__type":"com.amazonaws.coral.service#AccessDeniedException","Message":"no"}'),
    (500, {}, b"<html>Internal Server Error</html>"),
    (503, {}, b""),
])
def test_an_error_answer_raises_what_the_client_raises(aws_credentials, status, headers, body):
    # GIVEN SQS answering every call with this error
    client = queue_client()

    def answer(request, **_):
        return AWSResponse(request.url, status, headers, RawBody(body))

    client.meta.events.register("before-send.sqs", answer)
    call = LeanCall(client, "SendMessageBatch")
    url = "https://sqs.us-east-1.amazonaws.com/1/q"
    first = errors_of(call, url, entries("a\n"))  # through the client
    # THEN a later call raises the same exception, message, error fields and metadata
    assert call._kept is not None
    assert errors_of(call, url, entries("a\n")) == first
    assert first[2]["Error"]


def test_a_later_call_carries_no_trace_id_of_the_first(aws_credentials, monkeypatch):
    # GIVEN a client inside a Lambda invocation, where botocore adds that invocation's trace id
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "f")
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-first")
    client = queue_client()
    seen = []

    def answer(request, **_):
        seen.append(request.headers.get("X-Amzn-Trace-Id"))
        return AWSResponse(request.url, 200, {}, RawBody(b'{"Successful":[{"Id":"0"}]}'))

    client.meta.events.register("before-send.sqs", answer)
    call = LeanCall(client, "SendMessageBatch")
    call(QueueUrl="https://sqs.us-east-1.amazonaws.com/1/q", Entries=entries("a\n"))
    # WHEN a later call is sent in another invocation
    monkeypatch.setenv("_X_AMZN_TRACE_ID", "Root=1-second")
    call(QueueUrl="https://sqs.us-east-1.amazonaws.com/1/q", Entries=entries("b\n"))
    # THEN it does not carry the first invocation's trace id
    assert seen[0] == b"Root=1-first"
    assert seen[1] != b"Root=1-first"
