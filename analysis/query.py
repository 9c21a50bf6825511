"""Reports as plain functions: report name + options -> rows. The CLI, the JSON API, the
dashboard and the tests call this, so no caller repeats report logic or option checking."""

from __future__ import annotations

from dataclasses import dataclass

from analysis import duck, lake_files, reports


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]

    def records(self) -> list[dict]:
        """Rows as dicts, exactly what `report NAME --format json` prints."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def run_report(name: str, raw: dict, lake: lake_files.LakeLocation | str | None = None,
               strict: bool = False, events_prefix: str | None = None) -> Result:
    """Rows of report `name` for raw options (CLI strings or Python values) over `lake`
    (a LakeLocation, a lake URL, or None for the configured lake). Options are checked
    before the lake is opened, so a bad option is named even when the lake is missing."""
    opts = reports.options(name, raw, strict=strict)
    if not isinstance(lake, lake_files.LakeLocation):
        lake = lake_files.open_lake(lake, events_prefix)
    columns, rows = duck.run(name, opts, lake)
    return Result(columns, rows)
