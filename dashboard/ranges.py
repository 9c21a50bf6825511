"""The top bar's date presets as report ranges, and the period before a range.

Presets are resolved on the server in the viewer's time zone (zoneinfo knows every zone's DST
rules; the browser only names the zone), into the `from`/`to`/`tz` options the reports take.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from logdig.errors import InvalidInput

PRESETS = ("today", "yesterday", "24h", "7d", "30d", "month", "custom")
FIVE_MIN_UP_TO = timedelta(days=1)  # 5-minute buckets up to a day, hours up to 7 days, days beyond
HOURS_UP_TO = timedelta(days=7)


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput("tz", f"{name!r} must be a time zone name such as UTC or "
                           "Europe/Berlin") from None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _day(field: str, value: str | None) -> date:
    try:
        return date.fromisoformat(value or "")
    except ValueError:
        raise InvalidInput(field, f"{value!r} must be a date YYYY-MM-DD") from None


def resolve(preset: str, tz: str, now: datetime, start: str | None = None,
            end: str | None = None) -> dict:
    """{from, to, tz, bucket, previous: {from, to}} for a preset (custom: dates start..end)."""
    local = now.astimezone(zone(tz))
    today = local.date()
    if preset not in PRESETS:
        raise InvalidInput("range", f"{preset!r} must be one of {', '.join(PRESETS)}")
    if preset == "24h":
        # The minute after now, so events of the current minute are in; 24 hours before it.
        upto = (now.astimezone(UTC) + timedelta(minutes=1)).replace(second=0, microsecond=0)
        return _timed(upto - timedelta(days=1), upto, tz)
    first, last = {
        "today": (today, today),
        "yesterday": (today - timedelta(days=1), today - timedelta(days=1)),
        "7d": (today - timedelta(days=6), today),
        "30d": (today - timedelta(days=29), today),
        "month": (today.replace(day=1), today),
    }.get(preset) or (_day("from", start), _day("to", end))
    if first > last:
        raise InvalidInput("from", f"{first} is after to {last}")
    return _dated(first, last, tz)


def _dated(first: date, last: date, tz: str) -> dict:
    days = (last - first).days + 1
    before = first - timedelta(days=1)
    bucket = "5min" if days == 1 else "hour" if days <= HOURS_UP_TO.days else "day"
    return {"from": first.isoformat(), "to": last.isoformat(), "tz": tz, "bucket": bucket,
            "previous": {"from": (before - timedelta(days=days - 1)).isoformat(),
                         "to": before.isoformat()}}


def _timed(start: datetime, end: datetime, tz: str) -> dict:
    length = end - start
    bucket = "5min" if length <= FIVE_MIN_UP_TO else "hour" if length <= HOURS_UP_TO else "day"
    return {"from": _iso(start), "to": _iso(end), "tz": tz, "bucket": bucket,
            "previous": {"from": _iso(start - length), "to": _iso(start)}}


def previous(start: str, end: str, tz: str) -> dict:
    """The period of the same length just before from..to (dates: whole days; else instants)."""
    if len(start) == 10 and len(end) == 10:
        return _dated(_day("from", start), _day("to", end), tz)["previous"]
    try:
        first, upto = (datetime.fromisoformat(v) for v in (start, end))
    except ValueError:
        raise InvalidInput("from", f"{start!r}..{end!r} must both be dates or ISO datetimes"
                           ) from None
    first, upto = (m if m.tzinfo else m.replace(tzinfo=zone(tz)) for m in (first, upto))
    return _timed(first, upto, tz)["previous"]
