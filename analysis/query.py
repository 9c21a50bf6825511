"""Reports as plain functions: report name + options -> rows. The CLI, the JSON API, the
dashboard and the tests call this, so no caller repeats report logic or option checking."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from analysis import duck, lake_files, reports
from analysis import store as query_store


@dataclass(frozen=True)
class Result:
    columns: list[str]
    rows: list[tuple]

    def records(self) -> list[dict]:
        """Rows as dicts, exactly what `report NAME --format json` prints."""
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def run_report(name: str, raw: dict, lake: lake_files.LakeLocation | str | None = None,
               strict: bool = False, events_prefix: str | None = None,
               store: str | Path | bool | None = None, refresh: bool = True) -> Result:
    """Rows of report `name` for raw options (CLI strings or Python values) over `lake`
    (a LakeLocation, a lake URL, or None for the configured lake). Options are checked
    before the lake is opened, so a bad option is named even when the lake is missing.

    store: a store file path; None for the default store (LOGDIG_DATA_DIR/store.duckdb) when
    the lake is the configured one, else the lake directly; False for the lake directly. A
    store is brought up to date first (a cheap listing when nothing is new) unless refresh is
    False (a caller that syncs on its own schedule, like the dashboard's many parallel calls)."""
    opts = reports.options(name, raw, strict=strict)
    if not isinstance(lake, lake_files.LakeLocation):
        lake = lake_files.open_lake(lake, events_prefix)
    if store is None and query_store.is_configured(lake):
        store = query_store.default_path(create=True)
    if store is None or store is False:
        columns, rows = duck.run(name, opts, lake)
    else:
        columns, rows = query_store.run(name, opts, lake, store, refresh=refresh)
    return Result(columns, rows)
