"""Structured logs: one JSON object per line, so CloudWatch Logs Insights and jq can query them.

The collector logs one line per request. Formatting and writing it on the request thread cost
~250-490 µs a request at 16 threads (contention on the handler's lock, a write per line), and so
does a QueueHandler/QueueListener pair (~60 µs: each record wakes the listener, which then
contends for the GIL). So the collector's handler only appends the record to a deque (atomic, no
lock, nothing woken) and a thread of its own formats and writes what gathered, in one write,
every 0.2 s and at exit (a SIGKILL loses at most the last 0.2 s of lines), in order.
"""

from __future__ import annotations

import atexit
import collections
import json
import logging
import multiprocessing.util
import sys
import threading
import time

import orjson

WRITE_INTERVAL_SECONDS = 0.2


def _json_line(line: dict) -> str:
    # ASCII only: a client's string can never inject a newline or a control character here.
    # orjson when its output is ASCII (most lines), json (with \u escapes) otherwise.
    try:
        raw = orjson.dumps(line, default=str)
        if raw.isascii():
            return raw.decode("ascii")
    except (orjson.JSONEncodeError, TypeError):  # a lone surrogate, an int past 64 bits
        pass
    return json.dumps(line, ensure_ascii=True, default=str)


class JsonFormatter(logging.Formatter):
    _second: tuple[int, str] = (-1, "")  # a second (time.time()) and its time as logging writes it

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """logging's own time ("2026-11-30 02:31:05,123", local time), its date and seconds
        formatted once a second instead of once a line (~3 µs: localtime and strftime)."""
        if datefmt:
            return super().formatTime(record, datefmt)
        second, text = self._second
        if int(record.created) != second:
            second = int(record.created)
            text = time.strftime(self.default_time_format, self.converter(second))
            self._second = (second, text)  # one assignment: another thread sees old or new
        return self.default_msec_format % (text, record.msecs)

    def format(self, record: logging.LogRecord) -> str:
        payload = record.msg if isinstance(record.msg, dict) else {"message": record.getMessage()}
        line = {"time": self.formatTime(record), "level": record.levelname,
                "logger": record.name, **payload}
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return _json_line(line)


class BatchWriter(logging.Handler):
    """Collects records in memory and writes them from its own thread, in batches."""

    def __init__(self, stream, interval: float = WRITE_INTERVAL_SECONDS):
        super().__init__()
        self.stream = stream
        self.interval = interval
        self._records: collections.deque[logging.LogRecord] = collections.deque()
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()
        # What gathered is written at exit: atexit for a plain process, and a multiprocessing
        # finalizer for a server worker, which leaves through os._exit() without atexit.
        atexit.register(self.close)
        multiprocessing.util.Finalize(self, self.close, exitpriority=100)

    def handle(self, record: logging.LogRecord) -> bool:
        # No handler lock: deque.append is atomic, and the writer thread is not woken.
        if self.filter(record):
            self._records.append(record)
        return True

    def _run(self) -> None:
        while not self._closing.wait(self.interval):
            self.flush()
        self.flush()

    def flush(self) -> None:
        with self.lock:  # the writer thread and close() may both flush
            lines = []
            while self._records:
                record = self._records.popleft()
                try:
                    lines.append(self.format(record) + "\n")
                except Exception:
                    self.handleError(record)
            if lines:
                self.stream.write("".join(lines))
                self.stream.flush()

    def close(self) -> None:
        self._closing.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join()
        self.flush()
        super().close()


def setup(level: int = logging.INFO, background: bool = False) -> None:
    """JSON lines on stderr for the root logger. background: written in batches by a thread of
    its own (the collector), rather than by the thread that logs (the batcher, a Lambda that may
    be frozen between invocations)."""
    root = logging.getLogger()
    if background:
        # The lines name no source line, thread or process: the logging HOWTO's "Optimization"
        # switches skip looking them up for every record (~2 µs a request; a record is made on
        # the request thread).
        logging._srcfile = None
        logging.logThreads = logging.logProcesses = logging.logMultiprocessing = False
    handler = BatchWriter(sys.stderr) if background else logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    for old in root.handlers:
        old.close()
    root.handlers[:] = [handler]
    root.setLevel(level)


def emit(logger: logging.Logger, event: str, **fields) -> None:
    logger.info({"event": event, **fields})
