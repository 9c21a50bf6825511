"""Queue message bodies: NDJSON of enriched events, packed to SQS's 64 KiB billing unit.

A body is one JSON object per line, each line ending in "\\n", ASCII only (non-ASCII is escaped by
json.dumps), so its length in characters is its size in bytes and no character can break a line.
SQS bills each 64 KiB of a request's payload as one request: messages are filled up to that unit
(or the queue's maximum message size, if smaller) and sent up to 10 per SendMessageBatch within the
queue's maximum message size for the whole batch.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

BILLING_UNIT = 64 * 1024
MAX_BATCH_ENTRIES = 10


def dumps(event: dict) -> str:
    """One event as one NDJSON line, without the newline."""
    return json.dumps(event, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def message_cap(max_message_bytes: int) -> int:
    return min(BILLING_UNIT, max_message_bytes)


def pack(lines: Iterable[str], cap: int) -> list[str]:
    """Bodies of at most `cap` bytes, each holding whole lines in their order."""
    bodies: list[str] = []
    current: list[str] = []
    size = 0
    for line in lines:
        need = len(line) + 1
        if need > cap:
            raise ValueError(f"an event of {need} bytes exceeds the message cap of {cap}")
        if size + need > cap:
            bodies.append("".join(current))
            current, size = [], 0
        current.append(line + "\n")
        size += need
    if current:
        bodies.append("".join(current))
    return bodies


def batches(bodies: list[str], max_batch_bytes: int) -> Iterator[list[str]]:
    """Groups of bodies for one SendMessageBatch: at most 10 entries and max_batch_bytes in all."""
    group: list[str] = []
    size = 0
    for body in bodies:
        if group and (len(group) == MAX_BATCH_ENTRIES or size + len(body) > max_batch_bytes):
            yield group
            group, size = [], 0
        group.append(body)
        size += len(body)
    if group:
        yield group


def billed_requests(payload_bytes: int) -> int:
    """SQS requests billed for one API call carrying this many payload bytes."""
    return max(1, -(-payload_bytes // BILLING_UNIT))


def parse_body(body: str) -> list[tuple[str, dict]]:
    """(line, event) pairs of a body; ValueError naming the line when one is not a JSON object."""
    pairs = []
    # NDJSON lines end in \n only: splitlines() would also cut a raw U+2028 inside a string.
    for number, line in enumerate(body.split("\n"), start=1):
        if not line:
            continue
        try:
            event = json.loads(line)
        except ValueError as exc:
            raise ValueError(f"line {number} is not JSON: {exc}") from None
        except RecursionError:  # a foreign producer's JSON bomb must not crash every drain
            raise ValueError(f"line {number} nests too deeply") from None
        if not isinstance(event, dict):
            raise ValueError(f"line {number} is not a JSON object")
        pairs.append((line, event))
    return pairs
