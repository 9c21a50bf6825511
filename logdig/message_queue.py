"""The message queue interface: what the collector sends to and the batcher drains.

Two implementations: SqsQueue (logdig/queues.py) and LocalQueue (logdig/local_queue.py);
logdig.queues.make_queue picks one from the settings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Message:
    id: str
    receipt: str
    body: str
    sent_at: float  # epoch seconds when the queue accepted it


class Queue(Protocol):
    def send_batch(self, bodies: Sequence[str], deadline: float | None = None) -> None:
        """Store all bodies, or raise QueueUnavailable (some may have been stored) by `deadline`
        (time.monotonic(); None: the queue's own LOGDIG_QUEUE_RETRY_SECONDS from now)."""

    def receive(self, max_messages: int = 10, wait_seconds: float = 0) -> list[Message]:
        """Up to max_messages, hidden from other receivers until deleted or the timeout."""

    def delete(self, messages: Sequence[Message]) -> None:
        """Remove received messages for good, or raise QueueUnavailable."""

    def release(self, messages: Sequence[Message]) -> None:
        """Make received messages visible again at once."""

    def depth(self) -> int:
        """Approximate number of visible messages."""

    def visibility_timeout(self) -> float:
        """Seconds a received message stays hidden (the drain must delete it before then)."""

    def ping(self) -> None:
        """Raise QueueUnavailable within about a second unless the queue can take a write
        (SQS: answers at all, since a send-only role cannot probe without sending)."""
