"""Queue message packing and the lake's key layout."""

from __future__ import annotations

import gzip
import hashlib

import pytest

from logdig.lake_layout import group_by_date, object_bytes, object_key, split_by_size
from logdig.packing import BILLING_UNIT, batches, billed_requests, dumps, message_cap, pack, parse_body


def lines_of(count: int, size: int = 500) -> list[str]:
    return [dumps({"event_type": "click", "n": i, "pad": "x" * size}) for i in range(count)]


def test_messages_fill_the_billing_unit_and_keep_every_line_in_order():
    lines = lines_of(1000)
    bodies = pack(lines, message_cap(262_144))
    assert all(len(body) <= BILLING_UNIT for body in bodies)
    assert all(len(body) > BILLING_UNIT - 600 for body in bodies[:-1])  # full but for one line
    assert "".join(bodies).splitlines() == lines


def test_the_message_cap_follows_a_smaller_queue_limit():
    assert message_cap(262_144) == BILLING_UNIT and message_cap(8192) == 8192


def test_an_event_larger_than_a_message_is_refused():
    with pytest.raises(ValueError, match="exceeds the message cap"):
        pack(["x" * 100], 50)


def test_batches_hold_ten_entries_and_the_queue_maximum_at_most():
    bodies = pack(lines_of(2000), BILLING_UNIT)
    groups = list(batches(bodies, 262_144))
    assert [b for g in groups for b in g] == bodies
    assert all(len(g) <= 10 and sum(map(len, g)) <= 262_144 for g in groups)
    assert len(groups[0]) == 4  # four full 64 KiB units fit under 256 KiB
    small = list(batches(["a\n"] * 25, 262_144))
    assert [len(g) for g in small] == [10, 10, 5]


@pytest.mark.parametrize("payload, billed", [(1, 1), (65_536, 1), (65_537, 2), (262_144, 4)])
def test_billed_requests_count_64_kib_units(payload, billed):
    assert billed_requests(payload) == billed


def test_parse_body_names_the_bad_line():
    assert [e for _, e in parse_body('{"a":1}\n{"b":2}\n')] == [{"a": 1}, {"b": 2}]
    with pytest.raises(ValueError, match="line 2 is not JSON"):
        parse_body('{"a":1}\n{oops\n')
    with pytest.raises(ValueError, match="line 1 is not a JSON object"):
        parse_body("[1]\n")


def test_events_split_at_midnight_utc():
    pairs = [(str(i), {"received_at": at}) for i, at in enumerate([
        "2026-11-23T23:59:59.999Z", "2026-11-24T00:00:00.000Z", "2026-11-24T00:30:00.000+01:00"])]
    assert group_by_date(pairs) == {"2026-11-23": ["0", "2"], "2026-11-24": ["1"]}


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
