"""LogDig's own errors; AWS ClientError is translated into these at one boundary (aws.translate)."""

from __future__ import annotations


class LogDigError(Exception):
    """Base of every error LogDig raises on purpose."""


class InvalidInput(LogDigError):
    """Bad input from a client: answered with a 4xx JSON body naming the field and the reason."""

    def __init__(self, field: str | None, message: str, code: str = "invalid_field", status=400):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message
        self.code = code
        self.status = status

    def to_json(self) -> dict:
        return {"error": {"code": self.code, "field": self.field, "message": self.message}}


class QueueUnavailable(LogDigError):
    """The queue did not accept the events in time; nothing was acknowledged."""


class LakeError(LogDigError):
    """The lake cannot be used: it did not store, list or return an object (for the batcher: the
    messages behind the object stay queued), or a lake URL, prefix or day names no usable lake."""
