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
               store: str | Path | bool | None = None, refresh: bool = True,
               check_site: bool = False) -> Result:
    """Rows of report `name` for raw options (CLI strings or Python values) over `lake`
    (a LakeLocation, a lake URL, or None for the configured lake). Options are checked
    before the lake is opened, so a bad option is named even when the lake is missing.

    store: a store file path; None for the default store (LOGDIG_DATA_DIR/store.duckdb) when
    the lake is the configured one, else the lake directly; False for the lake directly. A
    store is brought up to date first (a cheap listing when nothing is new) unless refresh is
    False (a caller that syncs on its own schedule, like the dashboard's many parallel calls).

    check_site: a `site` naming no host of the range is an error (the CLI's check; a dashboard
    showing a quiet site's last minutes must get empty rows instead)."""
    opts = reports.options(name, raw, strict=strict)
    if not isinstance(lake, lake_files.LakeLocation):
        lake = lake_files.open_lake(lake, events_prefix)
    if store is None and query_store.is_configured(lake):
        store = query_store.default_path(create=True)
    if check_site and opts["site"]:
        _check_site(raw, lake, store, refresh)
    columns, rows = _run(name, opts, lake, store, refresh)
    return Result(columns, rows)


def _run(name: str, opts: dict, lake: lake_files.LakeLocation, store,
         refresh: bool = True) -> tuple[list[str], list]:
    if store is None or store is False:
        return duck.run(name, opts, lake)
    return query_store.run(name, opts, lake, store, refresh=refresh)


def _check_site(raw: dict, lake: lake_files.LakeLocation, store, refresh: bool) -> None:
    """A --site naming no host of the range is a typo, not a quiet site: ReportError naming the
    option and the hosts there are. (One `sites` query more per filtered report: milliseconds
    from the store, a second read of the range's files from the lake directly.)"""
    given = {k: raw.get(k) for k in ("from", "to", "tz")}
    opts = reports.options("sites", {**given, "include_bots": True})
    hosts = [row[0] for row in _run("sites", opts, lake, store, refresh)[1]]
    site = reports.options("sites", {**given, "site": raw.get("site")})["site"]
    if site not in hosts:
        known = ", ".join(hosts[:10]) + (", ..." if len(hosts) > 10 else "") or "none"
        raise reports.ReportError(f"--site {raw.get('site')!r} names no host in the lake from "
                                  f"{raw.get('from')} to {raw.get('to')} (hosts there: {known})")
