"""Structured logs: one JSON object per line, so CloudWatch Logs Insights and jq can query them."""

from __future__ import annotations

import json
import logging
import sys


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload = record.msg if isinstance(record.msg, dict) else {"message": record.getMessage()}
        line = {"time": self.formatTime(record), "level": record.levelname,
                "logger": record.name, **payload}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        # ensure_ascii: a client's string can never inject a newline or a control character here.
        return json.dumps(line, ensure_ascii=True, default=str)


def setup(level: int = logging.INFO) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def emit(logger: logging.Logger, event: str, **fields) -> None:
    logger.info({"event": event, **fields})
