"""The lake table: its columns, derived from the event contract (logdig.events), and how
Glue/Athena read the `dt=` partitions.

Every engine derives its schema from COLUMNS (DuckDB's read_json columns, Spark's StructType,
the Parquet schema written by compaction, the Glue table and the Athena DDL), so a field added to
the event contract (with its lake type) reaches all of them.
"""

from __future__ import annotations

import re

from logdig.events import FIELDS, SERVER_FIELDS
from logdig.lake_layout import day_prefix

# (name, Hive/Athena type): the event contract's client fields in order, then the server's.
COLUMNS: tuple[tuple[str, str], ...] = (
    *((name, field.lake_type) for name, field in FIELDS.items()),
    *SERVER_FIELDS.items(),
)

PARTITION_KEY = ("dt", "string")
PROJECTION_START = "2020-01-01"
JSON_SERDE = "org.openx.data.jsonserde.JsonSerDe"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"

_STORAGE = {
    "json": {
        "InputFormat": "org.apache.hadoop.mapred.TextInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat",
        "SerdeInfo": {
            "SerializationLibrary": JSON_SERDE,
            "Parameters": {"ignore.malformed.json": "true"},
        },
    },
    "parquet": {
        "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
        "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
        "SerdeInfo": {"SerializationLibrary": PARQUET_SERDE, "Parameters": {}},
    },
}

# Athena/Glue names: lower case letters, digits and underscores (a hyphen breaks unquoted SQL).
_NAME_RE = re.compile(r"^[a-z0-9_]{1,255}$")


def column_names() -> list[str]:
    return [name for name, _ in COLUMNS]


def _check_name(kind: str, value: str) -> str:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValueError(
            f"{kind} {value!r} is not a valid Glue/Athena name: use 1-255 of [a-z0-9_] "
            "(replace hyphens with underscores)"
        )
    return value


def _check_location(location: str) -> str:
    """An s3:// prefix ending in '/', so that 'dt=${dt}/' appends to it as a folder."""
    if not isinstance(location, str) or not location.startswith("s3://") or len(location) <= 5:
        raise ValueError(f"location {location!r} must be an s3:// URL such as s3://bucket/events/")
    return location if location.endswith("/") else location + "/"


def _check_format(fmt: str) -> str:
    if fmt not in _STORAGE:
        raise ValueError(f"format {fmt!r} must be one of {', '.join(_STORAGE)}")
    return fmt


def projection_parameters(location: str) -> dict[str, str]:
    """Partition projection on dt: Athena computes the partitions, no crawler or MSCK REPAIR."""
    return {
        "projection.enabled": "true",
        "projection.dt.type": "date",
        "projection.dt.format": "yyyy-MM-dd",
        "projection.dt.range": f"{PROJECTION_START},NOW",
        "projection.dt.interval": "1",
        "projection.dt.interval.unit": "DAYS",
        "storage.location.template": day_prefix(location, "${dt}"),
    }


def glue_table_input(table_name: str, location: str, *, fmt: str = "json") -> dict:
    """The Glue TableInput (for glue.create_table / update_table) of the lake table at location.

    fmt="json" is the batcher's gzip NDJSON under events/; fmt="parquet" is compaction's output
    under parquet/ (see the README's Analysis section for when to use which).
    """
    _check_name("table name", table_name)
    location = _check_location(location)
    storage = _STORAGE[_check_format(fmt)]
    return {
        "Name": table_name,
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {
            "EXTERNAL": "TRUE",
            "classification": fmt,
            **projection_parameters(location),
        },
        "PartitionKeys": [{"Name": PARTITION_KEY[0], "Type": PARTITION_KEY[1]}],
        "StorageDescriptor": {
            "Columns": [{"Name": name, "Type": type_} for name, type_ in COLUMNS],
            "Location": location,
            "InputFormat": storage["InputFormat"],
            "OutputFormat": storage["OutputFormat"],
            "SerdeInfo": {
                "SerializationLibrary": storage["SerdeInfo"]["SerializationLibrary"],
                "Parameters": dict(storage["SerdeInfo"]["Parameters"]),
            },
        },
    }


def _quote(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _row_format(fmt: str, serde: dict) -> str:
    if fmt == "parquet":
        return "STORED AS PARQUET"
    props = ", ".join(f"{_quote(k)}={_quote(v)}" for k, v in serde["Parameters"].items())
    library = _quote(serde["SerializationLibrary"])
    return f"ROW FORMAT SERDE {library}\nWITH SERDEPROPERTIES ({props})"


def create_table_ddl(database: str, table: str, location: str, *, fmt: str = "json") -> str:
    """The same table as Athena DDL (CREATE EXTERNAL TABLE IF NOT EXISTS ...)."""
    _check_name("database name", database)
    table_input = glue_table_input(table, location, fmt=fmt)
    storage = table_input["StorageDescriptor"]
    columns = ",\n".join(f"  `{c['Name']}` {c['Type']}" for c in storage["Columns"])
    parameters = {k: v for k, v in table_input["Parameters"].items() if k != "EXTERNAL"}
    properties = ",\n".join(f"  {_quote(k)}={_quote(v)}" for k, v in parameters.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{table}` (\n{columns}\n)\n"
        f"PARTITIONED BY (`{PARTITION_KEY[0]}` {PARTITION_KEY[1]})\n"
        f"{_row_format(fmt, storage['SerdeInfo'])}\n"
        f"LOCATION {_quote(storage['Location'])}\n"
        f"TBLPROPERTIES (\n{properties}\n)"
    )
