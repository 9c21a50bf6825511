"""The lake table definition: the Glue TableInput and the Athena DDL derive from one column list."""

import pytest

from logdig import lake_schema


def test_glue_table_input_projects_dt_partitions_from_the_location():
    table = lake_schema.glue_table_input("events", "s3://lake-bucket/events/")

    params = table["Parameters"]
    assert params["projection.enabled"] == "true"
    assert params["projection.dt.type"] == "date"
    assert params["projection.dt.format"] == "yyyy-MM-dd"
    assert params["projection.dt.range"] == "2020-01-01,NOW"
    assert params["storage.location.template"] == "s3://lake-bucket/events/dt=${dt}/"
    assert table["PartitionKeys"] == [{"Name": "dt", "Type": "string"}]
    serde = table["StorageDescriptor"]["SerdeInfo"]["SerializationLibrary"]
    assert serde == "org.openx.data.jsonserde.JsonSerDe"
    names = [c["Name"] for c in table["StorageDescriptor"]["Columns"]]
    assert names == lake_schema.column_names()
    assert {"event_id", "event_type", "received_at", "client_ip", "x", "props"} <= set(names)


def test_location_without_trailing_slash_still_gives_folder_template():
    table = lake_schema.glue_table_input("events", "s3://b/logdig/events")
    assert table["StorageDescriptor"]["Location"] == "s3://b/logdig/events/"
    assert table["Parameters"]["storage.location.template"] == "s3://b/logdig/events/dt=${dt}/"


def test_ddl_names_every_column_once_with_its_type_and_the_projection():
    ddl = lake_schema.create_table_ddl("logdig", "events", "s3://b/events/")

    assert ddl.startswith("CREATE EXTERNAL TABLE IF NOT EXISTS `logdig`.`events` (")
    for name, type_ in lake_schema.COLUMNS:
        assert ddl.count(f"  `{name}` {type_},") + ddl.count(f"  `{name}` {type_}\n") == 1
    assert "PARTITIONED BY (`dt` string)" in ddl
    assert "ROW FORMAT SERDE 'org.openx.data.jsonserde.JsonSerDe'" in ddl
    assert "'storage.location.template'='s3://b/events/dt=${dt}/'" in ddl


def test_parquet_table_is_stored_as_parquet():
    ddl = lake_schema.create_table_ddl("logdig", "events_parquet", "s3://b/parquet/", fmt="parquet")
    assert "STORED AS PARQUET" in ddl and "JsonSerDe" not in ddl


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("logdig-events", "s3://b/events/"), "table name 'logdig-events'"),
        (("events", "/tmp/lake"), "location '/tmp/lake' must be an s3:// URL"),
        (("events", "s3://"), "location 's3://' must be an s3:// URL"),
    ],
)
def test_bad_names_and_locations_are_rejected_with_the_value(args, message):
    with pytest.raises(ValueError, match=message):
        lake_schema.glue_table_input(*args)


def test_bad_database_name_is_rejected():
    with pytest.raises(ValueError, match="database name 'my db'"):
        lake_schema.create_table_ddl("my db", "events", "s3://b/events/")
