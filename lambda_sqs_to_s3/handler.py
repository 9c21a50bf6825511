"""AWS Lambda entry point, run by an EventBridge schedule: a thin shell around logdig.drain."""

from __future__ import annotations

import functools
import math
import sys

from config import load_settings
from lambda_sqs_to_s3.metrics import emf_line
from logdig import logs
from logdig.drain import DrainOptions, drain, prepare
from logdig.lake import make_lake
from logdig.queues import make_queue


@functools.cache
def _parts():
    # Built on the first invocation, then reused while the Lambda container stays warm.
    settings = load_settings()
    logs.setup()
    queue = make_queue(settings)
    # The queue's visibility timeout against the margin, once per container: a queue that cannot
    # work with the drain fails the first invocation with a message saying why. The budget is
    # each invocation's remaining time; less than the margin just drains nothing.
    options = prepare(queue, DrainOptions.from_settings(settings), budget=math.inf)
    return queue, make_lake(settings), options, settings.service_name


def lambda_handler(event, context):
    queue, lake, options, service = _parts()
    if context is None:
        summary = drain(queue, lake, options)
    else:
        summary = drain(queue, lake, options,
                        remaining=lambda: context.get_remaining_time_in_millis() / 1000)
    # Every run, idle ones too: the "no events drained" alarm counts a silent batcher as broken.
    print(emf_line(summary, service), file=sys.stdout, flush=True)
    return summary
