"""AWS Lambda entry point, run by an EventBridge schedule: a thin shell around logdig.drain."""

from __future__ import annotations

import functools

from config import load_settings
from logdig import logs
from logdig.drain import DrainOptions, drain
from logdig.lake import make_lake
from logdig.queues import make_queue


@functools.cache
def _parts():
    # Built on the first invocation, then reused while the Lambda container stays warm.
    settings = load_settings()
    logs.setup()
    return make_queue(settings), make_lake(settings), DrainOptions.from_settings(settings)


def lambda_handler(event, context):
    queue, lake, options = _parts()
    if context is None:
        return drain(queue, lake, options)
    return drain(queue, lake, options,
                 remaining=lambda: context.get_remaining_time_in_millis() / 1000)
