"""The batcher's one Embedded Metric Format line per run: valid EMF, and the metrics the alarms watch."""

from __future__ import annotations

import json
import numbers

import boto3

from deploy.alarms import Thresholds, alarm_specs
from deploy.names import Names
from lambda_sqs_to_s3 import handler, metrics
from logdig.packing import dumps
from tests.motoserver import FakeLambdaContext, cold_handler


def emf_documents(text: str) -> list[dict]:
    """The lines of `text` that are EMF documents, checked against the specification's rules."""
    found = []
    for line in text.splitlines():
        if '"_aws"' not in line:
            continue
        doc = json.loads(line)
        meta = doc["_aws"]
        assert isinstance(meta["Timestamp"], int) and meta["Timestamp"] > 1_600_000_000_000
        for directive in meta["CloudWatchMetrics"]:
            assert isinstance(directive["Namespace"], str) and directive["Namespace"]
            for dimension_set in directive["Dimensions"]:
                assert all(isinstance(doc[name], str) for name in dimension_set)  # members are root keys
            for metric in directive["Metrics"]:
                assert isinstance(doc[metric["Name"]], numbers.Number)  # each named value is at the root
                assert metric["Unit"] in {"Count", "Seconds"}
        found.append(doc)
    return found


def run_handler(monkeypatch, capsys, sqs_queue_url: str, bucket: str) -> dict:
    monkeypatch.setenv("LOGDIG_QUEUE_URL", sqs_queue_url)
    monkeypatch.setenv("LOGDIG_BUCKET", bucket)
    monkeypatch.setenv("LOGDIG_MIN_MESSAGES", "2")
    monkeypatch.setenv("LOGDIG_SERVICE_NAME", "shop-logs")
    with cold_handler():
        handler.lambda_handler({}, FakeLambdaContext(300_000, step_ms=1000))
    (doc,) = emf_documents(capsys.readouterr().out)
    return doc


def test_a_drain_run_prints_one_emf_line_with_its_figures(monkeypatch, capsys, sqs_queue_url, s3_bucket):
    sqs = boto3.client("sqs")
    good = dumps({"event_type": "click", "event_id": "e1", "received_at": "2026-11-23T10:00:00.000Z"})
    for body in (good + "\n" + good + "\n", "{broken\n", good + "\n"):
        sqs.send_message(QueueUrl=sqs_queue_url, MessageBody=body)
    doc = run_handler(monkeypatch, capsys, sqs_queue_url, s3_bucket)
    (directive,) = doc["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == metrics.NAMESPACE == "LogDig"
    assert directive["Dimensions"] == [["Service"]] and doc["Service"] == "shop-logs"
    figures = {name: doc[name] for name in metrics.METRICS}
    assert figures == {
        "EventsDrained": 1,
        "ObjectsWritten": 1,
        "BadMessages": 1,
        "DuplicatesDropped": 2,
        "DrainSeconds": doc["DrainSeconds"],
        "MessagesLeft": 0,
    }
    assert doc["DrainSeconds"] >= 0


def test_an_idle_run_still_reports_zero_events(monkeypatch, capsys, sqs_queue_url, s3_bucket):
    # The "no events" alarm needs a zero, not silence, from a batcher that runs but finds nothing.
    doc = run_handler(monkeypatch, capsys, sqs_queue_url, s3_bucket)
    assert (doc["EventsDrained"], doc["MessagesLeft"], doc["reason"]) == (0, 0, "queue empty")


def test_messages_left_is_the_starting_depth_less_what_the_run_took():
    assert metrics.messages_left({"queue_depth": 250, "messages": 100}) == 150
    assert metrics.messages_left({"queue_depth": 3, "messages": 5}) == 0  # arrivals during the run


def test_every_alarm_on_a_batcher_metric_names_one_the_emf_line_carries():
    names = Names("logdig", "123456789012", "us-east-1", "aws", "b", "events/", "bad/")
    ours = [spec for spec in alarm_specs(names, Thresholds(), collector=True).values()
            if spec.get("Namespace") == metrics.NAMESPACE]
    assert {spec["MetricName"] for spec in ours} == {metrics.EVENTS_DRAINED, metrics.BAD_MESSAGES}
    assert all(set(metrics.METRICS) >= {spec["MetricName"]} for spec in ours)
    assert all(spec["Dimensions"] == [{"Name": "Service", "Value": "logdig"}] for spec in ours)
