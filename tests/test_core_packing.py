"""Queue message packing and the lake's key layout."""

from __future__ import annotations

import base64
import gzip
import hashlib
import random

import pytest

from logdig import packing
from logdig.lake_layout import dated, group_by_date, object_bytes, object_key, split_by_size
from logdig.packing import (
    BILLING_UNIT,
    batches,
    billed_requests,
    dumps,
    fits,
    message_cap,
    pack,
    parse_body,
)


def lines_of(count: int) -> list[str]:
    # Random ids and coordinates: compressible like real events, not like a repeated string.
    rng = random.Random(7)
    return [dumps({"event_type": "click", "event_id": f"{rng.getrandbits(128):032x}",
                   "x": rng.randint(0, 4000), "y": rng.randint(0, 9000),
                   "current_page": f"https://shop.example/p/{rng.randint(1, 500)}",
                   "received_at": "2026-11-23T10:00:00.000Z"}) for _ in range(count)]


def decoded(bodies: list[str]) -> list[str]:
    return [line for body in bodies for line, _ in parse_body(body)]


def test_bodies_are_base64_gzip_ndjson_holding_every_line_in_order():
    lines = lines_of(20_000)
    bodies = pack(lines, message_cap(262_144))
    assert decoded(bodies) == lines
    assert all(len(body) <= BILLING_UNIT and body.isascii() for body in bodies)
    text = gzip.decompress(base64.b64decode(bodies[0])).decode()
    assert text.endswith("\n") and text.split("\n")[0] == lines[0]


def test_bodies_fill_the_billing_unit():
    bodies = pack(lines_of(20_000), BILLING_UNIT)
    assert all(len(body) >= 0.85 * BILLING_UNIT for body in bodies[:-1])
    # ~150-byte events: several hundred per billed 64 KiB instead of ~430 as plain NDJSON
    assert 20_000 / len(bodies) > 1000


def test_the_same_lines_make_the_same_bodies():
    assert pack(lines_of(3000), BILLING_UNIT) == pack(lines_of(3000), BILLING_UNIT)


def test_the_message_cap_follows_a_smaller_queue_limit():
    assert message_cap(262_144) == BILLING_UNIT and message_cap(8192) == 8192
    bodies = pack(lines_of(2000), 8192)
    assert all(len(body) <= 8192 for body in bodies) and decoded(bodies) == lines_of(2000)


def test_an_event_larger_than_a_message_is_refused():
    incompressible = dumps({"pad": f"{random.Random(1).getrandbits(8000):x}"})
    assert not fits(incompressible, 1024) and fits(incompressible, 4096)
    with pytest.raises(ValueError, match="exceeds the message cap"):
        pack([incompressible], 1024)


def test_plain_ndjson_bodies_from_other_producers_are_read_too():
    assert [e for _, e in parse_body('{"a":1}\n{"b":2}\n')] == [{"a": 1}, {"b": 2}]


@pytest.mark.parametrize("body, says", [
    ("!!not base64!!", "line 1 is not JSON"),
    (base64.b64encode(b"plain bytes").decode(), "not base64 of gzip'd NDJSON"),
    (base64.b64encode(gzip.compress(b'{"a":1}\n')[:-6]).decode(), "truncated gzip stream"),
    (base64.b64encode(gzip.compress(b"\xff\xfe")).decode(), "not UTF-8"),
])
def test_undecodable_bodies_say_why(body, says):
    with pytest.raises(ValueError, match=says):
        parse_body(body)


def test_batches_hold_ten_entries_and_the_queue_maximum_at_most():
    bodies = ["x" * BILLING_UNIT] * 9
    groups = list(batches(bodies, 262_144))
    assert [b for g in groups for b in g] == bodies
    assert all(len(g) <= 10 and sum(map(len, g)) <= 262_144 for g in groups)
    assert [len(g) for g in groups] == [4, 4, 1]  # four full 64 KiB units fit under 256 KiB
    small = list(batches(["a\n"] * 25, 262_144))
    assert [len(g) for g in small] == [10, 10, 5]


@pytest.mark.parametrize("payload, billed", [(1, 1), (65_536, 1), (65_537, 2), (262_144, 4)])
def test_billed_requests_count_64_kib_units(payload, billed):
    assert billed_requests(payload) == billed


def test_parse_body_names_the_bad_line():
    assert [e for _, e in parse_body('{"a":1}\n{"b":2}\n')] == [{"a": 1}, {"b": 2}]
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        parse_body('{"a":1}\n{oops\n')
    with pytest.raises(ValueError, match="line 2 is not a JSON object"):
        parse_body('{"a":1}\n[1]\n')
    with pytest.raises(ValueError, match="line 1 is not a JSON object"):
        parse_body("[1]\n")


def test_events_split_at_midnight_utc():
    pairs = [(str(i), {"received_at": at}) for i, at in enumerate([
        "2026-11-23T23:59:59.999Z", "2026-11-24T00:00:00.000Z", "2026-11-24T00:30:00.000+01:00"])]
    assert group_by_date(dated(pairs)) == {"2026-11-23": ["0", "2"], "2026-11-24": ["1"]}


def test_objects_are_named_by_the_sha256_of_their_bytes_and_are_reproducible():
    data = object_bytes(['{"a":1}', '{"b":2}'])
    assert gzip.decompress(data) == b'{"a":1}\n{"b":2}\n'
    key = object_key("events/", "2026-11-23", data)
    assert key == f"events/dt=2026-11-23/{hashlib.sha256(data).hexdigest()}.jsonl.gz"
    assert object_bytes(['{"a":1}', '{"b":2}']) == data  # gzip mtime is zero: same lines, same key


def test_objects_are_split_by_uncompressed_size():
    runs = split_by_size(["a" * 9] * 5, 25)
    assert runs == [["a" * 9] * 2] * 2 + [["a" * 9]]


def test_a_raw_line_separator_inside_a_string_does_not_split_the_line():
    # Another producer may send raw UTF-8; only "\n" ends an NDJSON line.
    assert [e for _, e in parse_body('{"a":"x\u2028y\u0085z"}\r\n')] == [{"a": "x\u2028y\u0085z"}]


def reference_take(lines: list[str], start: int, raw_budget: int) -> int:
    """Lines from start, one at least, while they hold at most raw_budget bytes (with newlines)."""
    end, size = start, 0
    while end < len(lines) and (end == start or size + len(lines[end]) + 1 <= raw_budget):
        size += len(lines[end]) + 1
        end += 1
    return end


@pytest.mark.parametrize("seed", range(20))
def test_where_a_guess_ends_is_found_by_prefix_sums_as_by_counting_each_line(seed):
    rng = random.Random(seed)
    lines = ["x" * rng.choice([1, 30, 900, 5000]) for _ in range(rng.randint(1, 60))]
    ends = packing._ends(lines)
    for start in range(len(lines) + 1):
        for budget in (0, 1, 31, 900, 5000, 20_000, 10**9):
            assert packing._take(ends, start, budget) == reference_take(lines, start, budget)
            assert packing._raw_size(ends, start, len(lines)) == sum(len(x) + 1 for x in lines[start:])
    assert packing.raw_bytes(lines) == len("".join(line + "\n" for line in lines))
