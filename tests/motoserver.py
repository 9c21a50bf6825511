"""moto's server on a loopback port, so boto3 talks real HTTP to it (the wire-level tests)."""

from __future__ import annotations

import contextlib
import gzip
import json
import logging
import uuid
from collections.abc import Iterator

import boto3
import requests
from moto.server import ThreadedMotoServer

from logdig.packing import parse_body

# Fake credentials: no test can reach a real AWS account; moto's server accepts any.
FAKE_AWS_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_SESSION_TOKEN": "testing", "AWS_DEFAULT_REGION": "us-east-1"}
UNSET_AWS_ENV = ("AWS_PROFILE", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_S3")


class MotoServer:
    """One ThreadedMotoServer on 127.0.0.1 (port 0 = a free one), with helpers for its resources."""

    def __init__(self, port: int = 0):
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
        self.endpoint = ""

    def start(self) -> MotoServer:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        return self

    def stop(self) -> None:
        self._server.stop()

    def env(self) -> dict[str, str]:
        """Environment that points boto3 (in this process or a child) at this server."""
        return {**FAKE_AWS_ENV, "AWS_ENDPOINT_URL": self.endpoint}

    def reset(self) -> None:
        # moto keeps its state in process-wide backends; tests start from an empty account.
        requests.post(self.endpoint + "/moto-api/reset", timeout=10).raise_for_status()

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing")

    def create_queue(self, name: str | None = None, visibility_timeout: int = 30) -> str:
        name = name or f"logdig-{uuid.uuid4().hex[:12]}"
        return self.client("sqs").create_queue(
            QueueName=name, Attributes={"VisibilityTimeout": str(visibility_timeout)})["QueueUrl"]

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"logdig-lake-{uuid.uuid4().hex[:12]}"
        self.client("s3").create_bucket(Bucket=name)
        return name


@contextlib.contextmanager
def running_moto(port: int = 0) -> Iterator[MotoServer]:
    server = MotoServer(port).start()
    try:
        yield server
    finally:
        server.stop()


def point_boto3_at(monkeypatch, server: MotoServer) -> None:
    """Make every boto3 client built from now on (in this process) talk to `server`."""
    for name, value in server.env().items():
        monkeypatch.setenv(name, value)
    for name in UNSET_AWS_ENV:
        monkeypatch.delenv(name, raising=False)


@contextlib.contextmanager
def lambda_env(monkeypatch, server: MotoServer, queue_url: str, bucket: str) -> Iterator[None]:
    """Environment for lambda_sqs_to_s3.handler against `server`, with a cold handler cache."""
    point_boto3_at(monkeypatch, server)
    for name, value in {"LOGDIG_QUEUE_URL": queue_url, "LOGDIG_BUCKET": bucket,
                        "LOGDIG_MIN_MESSAGES": "1", "LOGDIG_LAKE_PREFIX": "events/"}.items():
        monkeypatch.setenv(name, value)
    with cold_handler():
        yield


@contextlib.contextmanager
def cold_handler() -> Iterator[None]:
    """lambda_sqs_to_s3.handler started cold, with pytest's log handlers given back afterwards.

    The handler caches its queue and lake like a warm Lambda, and sets up the root logger as
    Lambda would.
    """
    from lambda_sqs_to_s3 import handler

    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    handler._parts.cache_clear()
    try:
        yield
    finally:
        handler._parts.cache_clear()
        root.handlers[:] = handlers
        root.setLevel(level)


def s3_objects(s3, bucket: str, prefix: str = "") -> dict[str, bytes]:
    """Every object under prefix, key -> raw bytes."""
    objects = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for item in page.get("Contents", []):
            objects[item["Key"]] = s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
    return objects


def ndjson_events(data: bytes) -> list[dict]:
    """The events of one lake object (gzip NDJSON, one event per line)."""
    return [json.loads(line) for line in gzip.decompress(data).decode("utf-8").splitlines()]


def queued_events(sqs, queue_url: str) -> list[dict]:
    """Every event still in an SQS queue, received (and so hidden) for the visibility timeout."""
    events = []
    while True:
        reply = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        if not reply.get("Messages"):
            return events
        for message in reply["Messages"]:
            events.extend(event for _, event in parse_body(message["Body"]))


class FakeLambdaContext:
    """A Lambda context whose remaining time runs down by `step_ms` on every look."""

    def __init__(self, remaining_ms: int = 900_000, step_ms: int = 100):
        self.remaining_ms = remaining_ms
        self.step_ms = step_ms
        self.looks = 0

    def get_remaining_time_in_millis(self) -> int:
        self.looks += 1
        self.remaining_ms = max(0, self.remaining_ms - self.step_ms)
        return self.remaining_ms
