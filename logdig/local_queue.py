"""Local mode's durable queue: SQLite with SQS's receive / visibility timeout / delete semantics.

Written here because no maintained library fits: persist-queue's ack queue has no visibility
timeout and puts every unacked item back whenever any process opens it; litequeue locks one
message per transaction with no receipt handles or batch send. SQLite itself gives what matters:
atomic multi-row transactions, fsync'd commits (synchronous=FULL, so an acknowledged event survives
a crash or power loss) and safe use from several collector processes and the drainer at once.
"""

from __future__ import annotations

import os
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
"""

_DEFAULTS = Settings()


class LocalQueue:
    def __init__(self, path: Path, visibility_timeout: float = _DEFAULTS.visibility_timeout_seconds,
                 clock: Callable[[], float] = time.time, poll_seconds: float = 0.2,
                 busy_timeout: float = 30):
        self.path = Path(path)
        self.visibility_timeout = visibility_timeout
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

    def _transaction(self):
        return _Transaction(self)

    def send_batch(self, bodies: Sequence[str]) -> None:
        now = self.clock()
        with self._transaction() as db:
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
                [(now + self.visibility_timeout, m.receipt, int(m.id)) for m in messages])
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

    def ping(self) -> None:
        self.depth()


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT, with every SQLite failure as QueueUnavailable."""

    def __init__(self, queue: LocalQueue):
        self.queue = queue

    def __enter__(self) -> sqlite3.Connection:
        try:
            self.conn = self.queue._connection()
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
