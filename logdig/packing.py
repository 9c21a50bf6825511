"""Queue message bodies: gzip'd NDJSON in base64, packed to SQS's 64 KiB billing unit.

The payload is NDJSON: one enriched event per line, each line ending in "\\n", ASCII only
(non-ASCII characters are written as \\u escapes), so no character can break a line. SQS bills
each 64 KiB of a request's payload, on send and on receive, as one request; an event is ~1 KB, so plain NDJSON
would cost ~30,000 billed requests per million events. Gzip shrinks NDJSON several-fold and base64
keeps the body valid SQS text, so a body holds several hundred events. Messages are filled up to
the billing unit (or the queue's maximum message size, if smaller) and sent up to 10 per
SendMessageBatch within the queue's maximum message size for the whole batch.

A body made only of base64 characters is decoded; any other body is read as plain NDJSON, so
other producers may send that.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
import re
import zlib
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from itertools import accumulate

import orjson

BILLING_UNIT = 64 * 1024
MAX_BATCH_ENTRIES = 10
MAX_DECODED_BYTES = 64 * 1024 * 1024  # a body can never unpack into more than this
BASE64_RE = re.compile(r"[A-Za-z0-9+/]+={0,2}")
GZIP_LEVEL = 5  # nearly level 9's size at a third of its CPU on NDJSON
# The first guess of how much a body's lines shrink, before anything was packed: tracker events
# shrink ~20-fold together, so a low guess compresses a large flush twice (see pack_counted).
FIRST_RATIO = 4.0


def dumps(event: dict) -> str:
    """One event as one NDJSON line, without the newline: ASCII, no NaN or Infinity."""
    try:
        # orjson writes the same JSON ~5x faster, but non-ASCII as UTF-8 rather than \\u escapes:
        # it is used only when its line is ASCII, and never for NaN or Infinity (it writes null).
        line = orjson.dumps(event)
    except (orjson.JSONEncodeError, TypeError):  # e.g. an int past 64 bits: json's own error
        line = None
    if line is not None and line.isascii() and b"null" not in line:
        return line.decode("ascii")
    return json.dumps(event, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


def message_cap(max_message_bytes: int) -> int:
    return min(BILLING_UNIT, max_message_bytes)


def encode(lines: list[str]) -> str:
    """The body for these lines: base64 of gzip'd NDJSON (gzip time zero: same lines, same body)."""
    raw = "\n".join([*lines, ""]).encode("ascii")  # each line ends in "\n"
    return base64.b64encode(gzip.compress(raw, compresslevel=GZIP_LEVEL, mtime=0)).decode("ascii")


def fits(line: str, cap: int) -> bool:
    """Whether one line alone makes a body of at most cap bytes."""
    # base64 grows incompressible text by a third; only then is the exact size worth computing.
    return (len(line) + 1) * 4 // 3 + 64 <= cap or len(encode([line])) <= cap


def pack_counted(lines: list[str], cap: int, ratio: float = FIRST_RATIO) -> list[tuple[str, int]]:
    """(body, number of lines) pairs, each body at most cap bytes, lines kept in order.

    ratio: the first guess of raw bytes per body byte; a caller packing similar lines again
    passes what the last packing achieved (packed_ratio), so most bodies compress once.
    """
    ends = _ends(lines)
    packed: list[tuple[str, int]] = []
    start = 0
    while start < len(lines):
        body, end = _fit(lines, ends, start, _take(ends, start, int(cap * ratio * 0.9)), cap)
        ratio = _raw_size(ends, start, end) / len(body)
        packed.append((body, end - start))
        start = end
    return packed


def packed_ratio(lines: list[str], packed: list[tuple[str, int]]) -> float:
    """Raw bytes per body byte that a packing achieved: the next packing's first guess."""
    body_bytes = sum(len(body) for body, _ in packed)
    return raw_bytes(lines) / body_bytes if body_bytes else FIRST_RATIO


def raw_bytes(lines: list[str]) -> int:
    """NDJSON bytes of these lines (each with its newline)."""
    return sum(map(len, lines)) + len(lines)


def _fit(lines: list[str], ends: list[int], start: int, end: int, cap: int) -> tuple[str, int]:
    """The fullest body from lines[start:] found by a few tries, and where it ends.

    The compressed size is known only after compressing: a body too large shrinks in proportion
    until it fits; one well under the billing unit grows in proportion, at most three times.
    """
    best: tuple[str, int] | None = None
    grows = 0
    while True:
        body = encode(lines[start:end])
        if len(body) > cap:
            if end - start == 1:
                raise ValueError(f"an event of {len(lines[start])} bytes exceeds the message cap of {cap}")
            end = start + max(1, int((end - start) * cap / len(body) * 0.95))
            if best is not None and end <= best[1]:
                return best
            continue
        best = (body, end)
        if len(body) >= 0.85 * cap or end == len(lines) or grows == 3:
            return best
        grows += 1
        end = max(end + 1, _take(ends, start, int(_raw_size(ends, start, end) * cap / len(body) * 0.92)))


def _ends(lines: list[str]) -> list[int]:
    """Raw bytes up to the end of each line (with newlines): ends[i] - ends[j] for lines j+1..i."""
    return list(accumulate(len(line) + 1 for line in lines))


def _raw_size(ends: list[int], start: int, end: int) -> int:
    return ends[end - 1] - (ends[start - 1] if start else 0) if end > start else 0


def _take(ends: list[int], start: int, raw_budget: int) -> int:
    """Where lines from start end once they hold raw_budget bytes (at least one line)."""
    if start >= len(ends):
        return start
    before = ends[start - 1] if start else 0
    return max(start + 1, min(len(ends), bisect_right(ends, before + raw_budget, lo=start)))


def pack(lines: Iterable[str], cap: int) -> list[str]:
    """Bodies of at most cap bytes holding every line in order."""
    return [body for body, _ in pack_counted(list(lines), cap)]


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


def decode(body: str) -> str:
    """The NDJSON text of a body; ValueError saying why when it cannot be unpacked."""
    if not BASE64_RE.fullmatch(body):
        return body
    try:
        packed = base64.b64decode(body, validate=True)
        inflater = zlib.decompressobj(wbits=31)  # gzip framing
        raw = inflater.decompress(packed, MAX_DECODED_BYTES)
    except (binascii.Error, zlib.error) as exc:
        raise ValueError(f"body is not base64 of gzip'd NDJSON: {exc}") from None
    if inflater.unconsumed_tail:
        raise ValueError(f"body unpacks to more than {MAX_DECODED_BYTES} bytes")
    if not inflater.eof:
        raise ValueError("body is a truncated gzip stream")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"body is not UTF-8: {exc}") from None


def parse_body(body: str) -> list[tuple[str, dict]]:
    """(line, event) pairs of a body; ValueError naming the line when one is not a JSON object."""
    pairs = []
    # NDJSON lines end in \n only: splitlines() would also cut a raw U+2028 inside a string.
    for number, line in enumerate(decode(body).split("\n"), start=1):
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
