"""The top bar's date presets, resolved in the viewer's time zone, and the previous period."""

from datetime import UTC, datetime

import pytest

from dashboard import ranges
from logdig.errors import InvalidInput

# 23:30 UTC on 29 Nov is already 30 Nov in Berlin (UTC+1) and still 29 Nov in New York.
NOW = datetime(2026, 11, 29, 23, 30, 15, tzinfo=UTC)


@pytest.mark.parametrize(("preset", "tz", "want"), [
    ("today", "Europe/Berlin", ("2026-11-30", "2026-11-30", "5min", "2026-11-29", "2026-11-29")),
    ("today", "America/New_York", ("2026-11-29", "2026-11-29", "5min", "2026-11-28", "2026-11-28")),
    ("yesterday", "UTC", ("2026-11-28", "2026-11-28", "5min", "2026-11-27", "2026-11-27")),
    ("7d", "UTC", ("2026-11-23", "2026-11-29", "hour", "2026-11-16", "2026-11-22")),
    ("30d", "UTC", ("2026-10-31", "2026-11-29", "day", "2026-10-01", "2026-10-30")),
    ("month", "Europe/Berlin", ("2026-11-01", "2026-11-30", "day", "2026-10-02", "2026-10-31")),
    ("24h", "UTC", ("2026-11-28T23:31:00Z", "2026-11-29T23:31:00Z", "5min",
                    "2026-11-27T23:31:00Z", "2026-11-28T23:31:00Z")),
])
def test_presets(preset, tz, want):
    got = ranges.resolve(preset, tz, NOW)
    assert (got["from"], got["to"], got["bucket"], got["previous"]["from"],
            got["previous"]["to"]) == want
    assert got["tz"] == tz


def test_custom_range_and_its_previous_period():
    got = ranges.resolve("custom", "UTC", NOW, "2026-11-01", "2026-11-03")
    assert (got["from"], got["to"], got["bucket"]) == ("2026-11-01", "2026-11-03", "hour")
    assert got["previous"] == {"from": "2026-10-29", "to": "2026-10-31"}
    assert ranges.previous("2026-11-29T08:00:00Z", "2026-11-29T10:00:00Z", "UTC") == {
        "from": "2026-11-29T06:00:00Z", "to": "2026-11-29T08:00:00Z"}


@pytest.mark.parametrize(("args", "field"), [
    (("week", "UTC"), "range"),
    (("today", "Mars/Olympus"), "tz"),
    (("custom", "UTC", "2026-11-05", "2026-11-01"), "from"),
    (("custom", "UTC", "yesterday", "2026-11-01"), "from"),
])
def test_bad_presets_name_the_parameter(args, field):
    preset, tz, *dates = args
    with pytest.raises(InvalidInput) as error:
        ranges.resolve(preset, tz, NOW, *dates)
    assert error.value.field == field
