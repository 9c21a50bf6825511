"""SqsQueue's readiness check, with botocore's Stubber against the real SQS API model."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import Stubber

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
