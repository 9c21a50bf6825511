"""The JSON log lines' time: logging's own, though the formatter keeps the second it formatted."""

from __future__ import annotations

import logging
import random

from logdig.logs import JsonFormatter


def test_a_lines_time_is_loggings_own_across_seconds_and_back():
    # GIVEN records made within one second, across second boundaries and with the clock going back
    rng = random.Random(19)
    base = 1_795_000_000.0
    times = [base + 0.001, base + 0.999, base + 1.0, base + 1.5, base - 3.25, base + 86_400.7]
    times += [base + rng.uniform(-10_000, 10_000) for _ in range(500)]
    ours, reference = JsonFormatter(), logging.Formatter()
    for created in times:
        record = logging.LogRecord("logdig", logging.INFO, "", 0, {"event": "x"}, None, None)
        record.created = created
        record.msecs = int((created - int(created)) * 1000) + 0.0
        # THEN each line gives the time logging's formatter gives, with or without a date format
        assert ours.formatTime(record) == reference.formatTime(record), created
        assert ours.formatTime(record, "%H:%M") == reference.formatTime(record, "%H:%M")
