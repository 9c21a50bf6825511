"""SqsQueue's readiness check, with botocore's Stubber against the real SQS API model; the queue's
boto3 session (only SQS's endpoint data) against a default one."""

from __future__ import annotations

import os
from collections import OrderedDict

import boto3
import botocore
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config
from botocore.loaders import JSONFileLoader
from botocore.stub import Stubber

from logdig import aws
from logdig.errors import QueueUnavailable
from logdig.queues import SqsQueue

URL = "https://sqs.us-east-1.amazonaws.com/123456789012/logdig"


@pytest.fixture
def stubbed(aws_credentials):
    sqs = boto3.client("sqs")
    with Stubber(sqs) as stub:
        yield SqsQueue(URL, sqs), stub


def test_a_send_only_role_is_still_ready(stubbed):
    # The collector's instance profile may only send: SQS answering AccessDenied proves it is up.
    queue, stub = stubbed
    stub.add_client_error("get_queue_attributes", service_error_code="AccessDenied", http_status_code=403)
    queue.ping()
    stub.assert_no_pending_responses()


def test_a_missing_queue_is_not_ready(stubbed):
    queue, stub = stubbed
    stub.add_client_error("get_queue_attributes",
                          service_error_code="AWS.SimpleQueueService.NonExistentQueue", http_status_code=400)
    with pytest.raises(QueueUnavailable, match="NonExistentQueue"):
        queue.ping()


def test_the_queue_sessions_endpoint_data_is_botocores_for_sqs_alone():
    # GIVEN endpoints.json as botocore parses it, and as the queue's session loads it
    path = os.path.join(os.path.dirname(botocore.__file__), "data", "endpoints")
    full = JSONFileLoader().load_file(path)
    lean = aws._EndpointsOf(("sqs",)).load_file(path)
    # THEN the lean one is the same document, each partition with only its sqs entry
    for partition in full["partitions"]:
        services = partition["services"]
        partition["services"] = OrderedDict((name, services[name]) for name in services if name == "sqs")
    assert lean == full
    assert [list(p) for p in lean["partitions"]] == [list(p) for p in full["partitions"]]


@pytest.mark.parametrize("region", ["us-east-1", "eu-central-1", "cn-north-1", "us-gov-west-1",
                                    "us-iso-east-1", "ap-southeast-7", "mars-north-1"])
@pytest.mark.parametrize("fips", [False, True])
def test_the_queue_session_sends_where_a_default_session_sends(aws_credentials, region, fips):
    # GIVEN an SQS client of the queue's session and one of a default session, same settings
    def sent_to(session) -> tuple[str, str]:
        config = Config(use_fips_endpoint=fips, retries={"total_max_attempts": 1})
        make = getattr(session, "create_client", None) or session.client  # botocore's or boto3's
        client = make("sqs", region_name=region, config=config)
        seen = []

        def answer(request, **_):
            seen.append((request.url, request.headers["Authorization"].decode().split(",")[0]))
            return AWSResponse(request.url, 200, {}, RawBody(b'{"Successful":[],"Failed":[]}'))

        client.meta.events.register("before-send.sqs", answer)
        client.send_message_batch(QueueUrl=f"https://sqs.{region}.amazonaws.com/1/q",
                                  Entries=[{"Id": "0", "MessageBody": "x"}])
        return seen[0]

    # THEN both send to the same URL, signed for the same region and service
    assert sent_to(aws.session_for("sqs")) == sent_to(boto3.session.Session())


class RawBody:
    def __init__(self, body: bytes):
        self.body = body

    def stream(self, **_):
        yield self.body


@pytest.mark.parametrize("configured", [None, "ap-south-1"])
def test_the_queue_sessions_clients_take_the_configured_region_or_the_settings(
        aws_credentials, monkeypatch, configured):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    if configured:
        monkeypatch.setenv("AWS_DEFAULT_REGION", configured)
    client = aws.client("sqs", "eu-west-1", aws.queue_client_config(1.0), aws.session_for("sqs"))
    assert client.meta.region_name == (configured or "eu-west-1")
