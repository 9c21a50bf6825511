"""Reports with DuckDB: a `lake_events` view over the planned local files, then the report SQL."""

from __future__ import annotations

import tempfile
from pathlib import Path

from analysis import lake_files, reports
from logdig.lake_schema import COLUMNS, PARTITION_KEY

_TYPES = {"int": "INTEGER", "bigint": "BIGINT", "double": "DOUBLE", "string": "VARCHAR",
          "boolean": "BOOLEAN", "map<string,string>": "MAP(VARCHAR, VARCHAR)"}


def duckdb_columns() -> dict[str, str]:
    return {name: _TYPES[type_] for name, type_ in COLUMNS}


def _list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def read_ndjson(paths: list[str], hive: bool = True) -> str:
    """A DuckDB table expression over gzip NDJSON lake objects, typed by the lake schema."""
    columns = "{" + ", ".join(f"'{k}': '{v}'" for k, v in duckdb_columns().items()) + "}"
    partition = ", hive_partitioning = true, hive_types = {'dt': 'VARCHAR'}" if hive else ""
    return (f"read_json({_list(paths)}, format = 'newline_delimited', compression = 'gzip', "
            f"columns = {columns}{partition})")


def _select_columns() -> str:
    return ", ".join(f'"{name}"' for name, _ in COLUMNS)


def _parquet_columns(con, source: str) -> str:
    """The lake columns from Parquet files, NULL for those a file written before the column
    existed lacks (union_by_name fills the gaps when only some files lack it)."""
    present = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    return ", ".join(f'"{name}"' if name in present else f'CAST(NULL AS {type_}) AS "{name}"'
                     for name, type_ in duckdb_columns().items())


def create_view(con, parquet: list[str], ndjson: list[str]) -> None:
    """`lake_events` over both layouts; an empty but typed view when nothing is there."""
    cols = f"{_select_columns()}, {PARTITION_KEY[0]}"
    parts = []
    if parquet:
        source = (f"read_parquet({_list(parquet)}, hive_partitioning = true, union_by_name = true, "
                  "hive_types = {'dt': 'VARCHAR'})")
        parts.append(f"SELECT {_parquet_columns(con, source)}, {PARTITION_KEY[0]} FROM {source}")
    if ndjson:
        parts.append(f"SELECT {cols} FROM {read_ndjson(ndjson)}")
    if not parts:
        typed = ", ".join(f'CAST(NULL AS {t}) AS "{n}"' for n, t in duckdb_columns().items())
        parts.append(f"SELECT {typed}, CAST(NULL AS VARCHAR) AS dt WHERE false")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {reports.SOURCE} AS " + "\nUNION ALL\n".join(parts))


def connect():
    import duckdb

    return duckdb.connect()


def run(name: str, opts: dict, lake: lake_files.LakeLocation,
        con=None) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of report `name` over the lake's dt partitions opts['from']..['to']."""
    con = con or connect()
    with tempfile.TemporaryDirectory(prefix="logdig-report-") as tmp:
        workdir = Path(tmp)
        days = lake_files.plan(lake, opts["from"], opts["to"], workdir)
        create_view(con, *lake_files.local_files(lake, days, workdir))
        result = con.execute(reports.render(name, "duckdb", opts))
        columns = [d[0] for d in result.description]
        return columns, result.fetchall()
