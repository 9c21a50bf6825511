"""The batcher's metrics as one CloudWatch Embedded Metric Format (EMF) line per run.

CloudWatch Logs turns a JSON log line carrying an `_aws` block into metrics on its own, so the
batcher publishes its figures with no PutMetricData call (no extra API call, no extra IAM right):
https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html
The alarms and the dashboard (deploy/alarms.py, deploy/dashboard.py) read the names from here.
"""

from __future__ import annotations

import json
import time

NAMESPACE = "LogDig"
DIMENSION = "Service"

# metric name -> (summary field, unit); MessagesLeft is derived (see messages_left).
EVENTS_DRAINED = "EventsDrained"
OBJECTS_WRITTEN = "ObjectsWritten"
BAD_MESSAGES = "BadMessages"
DUPLICATES_DROPPED = "DuplicatesDropped"
DRAIN_SECONDS = "DrainSeconds"
MESSAGES_LEFT = "MessagesLeft"
FROM_SUMMARY = {
    EVENTS_DRAINED: ("events", "Count"),
    OBJECTS_WRITTEN: ("objects", "Count"),
    BAD_MESSAGES: ("bad_messages", "Count"),
    DUPLICATES_DROPPED: ("duplicates", "Count"),
    DRAIN_SECONDS: ("seconds", "Seconds"),
}
METRICS = (*FROM_SUMMARY, MESSAGES_LEFT)


def messages_left(summary: dict) -> int:
    """Messages still queued after the run: the depth it began with less what it took (the
    depth is read at the start anyway, so this costs no call; arrivals during the run show in
    the next run's figure)."""
    return max(0, summary.get("queue_depth", 0) - summary.get("messages", 0))


def emf_line(summary: dict, service: str, now_ms: int | None = None) -> str:
    """One EMF JSON document for a drain summary (logdig.drain.drain's return value)."""
    values = {name: summary.get(field, 0) for name, (field, _) in FROM_SUMMARY.items()}
    values[MESSAGES_LEFT] = messages_left(summary)
    units = {name: unit for name, (_, unit) in FROM_SUMMARY.items()} | {MESSAGES_LEFT: "Count"}
    document = {
        "_aws": {
            "Timestamp": int(time.time() * 1000) if now_ms is None else now_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": units[name]} for name in METRICS],
                }
            ],
        },
        DIMENSION: service,
        "reason": summary.get("reason", ""),
        **values,
    }
    return json.dumps(document, separators=(",", ":"))
