"""The original LogDig collector design, kept only as the benchmark's baseline.

A Flask-RESTful resource that sends every event to SQS with its own synchronous SendMessage and
answers once the last call returned: the durable ack the new collector keeps, without its group
commit or packing. It validates nothing, so its per-request CPU cost is a lower bound of the
original's; the comparison with app/ is therefore conservative.

Run by bench/collector.py under the same gunicorn settings as the collector:
    python -m gunicorn ... "bench.original_app:create_app()"   (LOGDIG_QUEUE_URL selects the queue)
"""

from __future__ import annotations

import functools
import json

from flask import Flask, request
from flask_restful import Api, Resource

from config import Settings, load_settings
from logdig import aws
from logdig.events import utc_now_iso


def event_list(document) -> list[dict]:
    """One event, an array of events, or {"events": [...]}: the bodies the bench posts."""
    if isinstance(document, dict):
        document = document.get("events", [document])
    return document if isinstance(document, list) else []


class Logs(Resource):
    def __init__(self, settings: Settings):
        self.settings = settings

    def post(self):
        events = event_list(request.get_json(force=True))
        received_at = utc_now_iso()
        sqs = sqs_client(self.settings.aws_region)
        for event in events:
            sqs.send_message(QueueUrl=self.settings.queue_url,
                             MessageBody=json.dumps({**event, "received_at": received_at}))
        return {"RESTful Server": "Success", "accepted": len(events)}, 200


@functools.cache
def sqs_client(region: str):
    # One client per worker process, built on first use (never before gunicorn forks), with the
    # same botocore settings as the collector so that only the design differs.
    return aws.client("sqs", region)


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__)
    api = Api(app)
    resource_args = {"resource_class_kwargs": {"settings": settings}}
    api.add_resource(Logs, "/v1/logs", "/", **resource_args)
    return app
