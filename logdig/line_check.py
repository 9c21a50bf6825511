"""The batcher's check of each queued line against the lake schema, before it lands in events/.

The collector validates what browsers send, but a queue can also hold lines from another producer,
an older collector or a hand-edited local queue. A line that a typed reader (Athena's JSON SerDe,
Spark with the lake's schema, DuckDB's columns) would choke on, such as NaN, 1e400, a list as
event_id, or a received_at in year 9999 (which would make a dt=9999-12-31 partition), goes to
bad/ with its reason instead; the rest of its message lands.

Nothing here is a copy of the schema: client fields are checked by the event contract's own
validators (logdig.events.FIELDS) and every column, server fields included, by its lake type
(logdig.lake_schema.COLUMNS), so a field added to the contract is checked from then on.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from logdig.errors import InvalidInput
from logdig.events import FIELDS
from logdig.lake_schema import COLUMNS, PROJECTION_START

# received_at's sane window: not before the first partition Athena's projection can see, and not
# more than a day ahead of the drain's clock (clock skew between collector and batcher is seconds).
EARLIEST = datetime.fromisoformat(PROJECTION_START).replace(tzinfo=UTC).timestamp()
MAX_AHEAD_SECONDS = 86_400


def _integer(bits: int) -> Callable[[Any], str | None]:
    def check(value: Any) -> str | None:
        if isinstance(value, bool) or not isinstance(value, int):
            return "must be a whole number"
        if not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
            return f"does not fit a {bits}-bit integer column"
        return None

    return check


def _double(value: Any) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "must be a number"
    if isinstance(value, float) and not math.isfinite(value):
        return "must be a finite number"
    if isinstance(value, int) and abs(value) > 2**53:
        return "is too large for a double column"
    return None


def _string(value: Any) -> str | None:
    return None if isinstance(value, str) else "must be a string"


def _boolean(value: Any) -> str | None:
    return None if isinstance(value, bool) else "must be true or false"


def _string_map(value: Any) -> str | None:
    if not isinstance(value, dict):
        return "must be an object"
    for key, item in value.items():
        if item is not None and not isinstance(item, str | bool) and _double(item):
            return f"value of {key!r} must be a string, number, boolean or null"
    return None


LAKE_TYPE_CHECKS: dict[str, Callable[[Any], str | None]] = {
    "string": _string,
    "int": _integer(32),
    "bigint": _integer(64),
    "double": _double,
    "boolean": _boolean,
    "map<string,string>": _string_map,
}


def _column_checks() -> dict[str, Callable[[Any], str | None]]:
    unknown = {(name, type_) for name, type_ in COLUMNS if type_ not in LAKE_TYPE_CHECKS}
    if unknown:  # a contract field with a new lake type must get a check here, not slip through
        raise RuntimeError(f"no line check for lake types {sorted(unknown)}")
    return {name: LAKE_TYPE_CHECKS[type_] for name, type_ in COLUMNS}


COLUMN_CHECKS = _column_checks()


def line_problem(event: dict, now: float) -> str | None:
    """None when this event fits the lake schema; otherwise why not, naming the field."""
    for name, value in event.items():
        if value is None:  # every column is nullable
            continue
        check = COLUMN_CHECKS.get(name)
        if check is None:
            return f"{name}: is not a column of the lake"
        problem = check(value)
        if problem is None and name in FIELDS:
            problem = _contract_problem(name, value)
        if problem is not None:
            return f"{name}: {problem}"
    return _received_at_problem(event.get("received_at"), now)


def _contract_problem(name: str, value: Any) -> str | None:
    try:
        FIELDS[name](name, value)
    except InvalidInput as exc:
        return exc.message
    return None


def _received_at_problem(value: Any, now: float) -> str | None:
    if not isinstance(value, str):
        return "received_at: is required (the lake's dt partition comes from it)"
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return f"received_at: {value[:40]!r} is not an ISO-8601 time"
    if moment.tzinfo is None:
        return f"received_at: {value[:40]!r} has no time zone"
    try:
        seconds = moment.timestamp()
    except (OverflowError, ValueError):
        return f"received_at: {value[:40]!r} is out of range"
    if not EARLIEST <= seconds <= now + MAX_AHEAD_SECONDS:
        return (f"received_at: {value[:40]!r} is outside {PROJECTION_START} .. a day after the "
                "drain's time")
    return None
