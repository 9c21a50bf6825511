"""Local mode's durable queue: SQLite with SQS's receive / visibility timeout / delete semantics.

Written here because no maintained library fits: persist-queue's ack queue has no visibility
timeout and puts every unacked item back whenever any process opens it; litequeue locks one
message per transaction with no receipt handles or batch send. SQLite itself gives what matters:
atomic multi-row transactions, fsync'd commits (synchronous=FULL, so an acknowledged event survives
a crash or power loss) and safe use from several collector processes and the drainer at once.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from config import Settings
from logdig.errors import QueueUnavailable
from logdig.message_queue import Message

SCHEMA = """
CREATE TABLE IF NOT EXISTS messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    body TEXT NOT NULL,
    sent_at REAL NOT NULL,
    visible_at REAL NOT NULL,
    receipt TEXT,
    receives INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS messages_by_visibility ON messages (visible_at, id);
CREATE TABLE IF NOT EXISTS probe (id INTEGER PRIMARY KEY, at REAL NOT NULL);
"""
# /readyz's probe: the queue must have room for a few full messages, not just for its one row.
MIN_FREE_BYTES = 4 * 1024 * 1024

_DEFAULTS = Settings()


class LocalQueue:
    def __init__(self, path: Path, visibility_timeout: float = _DEFAULTS.visibility_timeout_seconds,
                 clock: Callable[[], float] = time.time, poll_seconds: float = 0.2,
                 busy_timeout: float = 30):
        self.path = Path(path)
        self.visibility_seconds = visibility_timeout
        # How long to wait for another process's write lock before giving up with
        # QueueUnavailable: a collector must answer 503 in its retry time, not hang.
        self.busy_timeout = busy_timeout
        self.clock = clock
        self.poll_seconds = poll_seconds
        self._local = threading.local()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._connection().executescript(SCHEMA)
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"local queue {self.path}: {exc}") from exc

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and process: sqlite3 connections must not cross either.
        conn = getattr(self._local, "conn", None)
        if conn is None or self._local.pid != os.getpid():
            conn = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _transaction(self, deadline: float | None = None):
        return _Transaction(self, deadline)

    def send_batch(self, bodies: Sequence[str], deadline: float | None = None) -> None:
        now = self.clock()
        with self._transaction(deadline) as db:
            db.executemany("INSERT INTO messages (body, sent_at, visible_at) VALUES (?, ?, ?)",
                           [(body, now, now) for body in bodies])

    def receive(self, max_messages: int = 10, wait_seconds: float = 0) -> list[Message]:
        deadline = time.monotonic() + wait_seconds
        while True:
            messages = self._receive_now(max_messages)
            if messages or time.monotonic() >= deadline:
                return messages
            time.sleep(self.poll_seconds)

    def _receive_now(self, max_messages: int) -> list[Message]:
        now = self.clock()
        with self._transaction() as db:
            rows = db.execute(
                "SELECT id, body, sent_at FROM messages WHERE visible_at <= ? ORDER BY id LIMIT ?",
                (now, max_messages)).fetchall()
            messages = [Message(str(i), uuid.uuid4().hex, body, sent) for i, body, sent in rows]
            db.executemany(
                "UPDATE messages SET visible_at = ?, receipt = ?, receives = receives + 1 "
                "WHERE id = ?",
                [(now + self.visibility_seconds, m.receipt, int(m.id)) for m in messages])
        return messages

    def delete(self, messages: Sequence[Message]) -> None:
        with self._transaction() as db:
            db.executemany("DELETE FROM messages WHERE id = ? AND receipt = ?",
                           [(int(m.id), m.receipt) for m in messages])

    def release(self, messages: Sequence[Message]) -> None:
        now = self.clock()
        with self._transaction() as db:
            db.executemany("UPDATE messages SET visible_at = ? WHERE id = ? AND receipt = ?",
                           [(now, int(m.id), m.receipt) for m in messages])

    def depth(self) -> int:
        with self._transaction() as db:
            (count,) = db.execute("SELECT count(*) FROM messages WHERE visible_at <= ?",
                                  (self.clock(),)).fetchone()
        return count

    def visibility_timeout(self) -> float:
        return self.visibility_seconds

    def ping(self, seconds: float = 1.0) -> None:
        """Raise QueueUnavailable unless a write commits within `seconds`: a read alone would
        pass on a full disk or a read-only file, where every send fails."""
        free = shutil.disk_usage(self.path.parent).free
        if free < MIN_FREE_BYTES:
            raise QueueUnavailable(f"local queue {self.path}: only {free} bytes free on its disk")
        with self._transaction(time.monotonic() + seconds) as db:
            db.execute("INSERT OR REPLACE INTO probe (id, at) VALUES (1, ?)", (self.clock(),))


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, with every SQLite failure as QueueUnavailable."""

    def __init__(self, queue: LocalQueue, deadline: float | None = None):
        self.queue = queue
        self.deadline = deadline

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn = self.queue._connection()
            # Wait for another process's write lock only until the caller's deadline.
            wait = self.queue.busy_timeout if self.deadline is None else \
                max(0.0, min(self.deadline - time.monotonic(), self.queue.busy_timeout))
            self.conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise QueueUnavailable(f"local queue {self.queue.path}: {exc}") from exc
        return self.conn

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            self.conn.execute("ROLLBACK" if exc_type else "COMMIT")
        except sqlite3.Error as commit_error:
            raise QueueUnavailable(f"local queue {self.queue.path}: {commit_error}") from commit_error
        if isinstance(exc, sqlite3.Error):
            raise QueueUnavailable(f"local queue {self.queue.path}: {exc}") from exc
