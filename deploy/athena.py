"""Athena over the lake: a Glue database, the events table with partition projection on dt,
and a workgroup whose query results land in the bucket."""

from __future__ import annotations

from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from deploy.aws import Aws, absent_as_none, missing
from deploy.names import Names
from deploy.plan import Action
from logdig.lake_schema import glue_table_input

SCAN_LIMIT_BYTES = 10 * 1024**3  # a runaway query stops at 10 GiB scanned (about $0.05)


def covers(have: Any, want: Any) -> bool:
    """True when `have` holds everything in `want`; Glue adds fields of its own when it echoes."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(covers(have.get(k), v) for k, v in want.items())
    if isinstance(want, list):
        return (
            isinstance(have, list)
            and len(have) == len(want)
            and all(covers(h, w) for h, w in zip(have, want, strict=True))
        )
    return have == want


NOT_FOUND = "EntityNotFoundException"


class GlueDatabase:
    def __init__(self, aws: Aws, names: Names):
        self.aws = aws
        self.name = names.database
        self.label = f"glue database {self.name}"

    def read(self) -> dict | None:
        return absent_as_none(lambda: self.aws.client("glue").get_database(Name=self.name), NOT_FOUND)

    def diff(self, current: dict | None) -> list[Action]:
        if current is not None:
            return []
        create = partial(
            self.aws.client("glue").create_database,
            DatabaseInput={"Name": self.name, "Description": "LogDig activity logs"},
        )
        return [Action(self.label, "create", "", create)]

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        delete = partial(self.aws.client("glue").delete_database, Name=self.name)
        return [Action(self.label, "delete", "", delete)]


class GlueTable:
    def __init__(self, aws: Aws, names: Names):
        self.aws = aws
        self.names = names
        self.label = f"glue table {names.database}.{names.table}"

    def table_input(self) -> dict:
        return glue_table_input(self.names.table, self.names.lake_location)

    @property
    def glue(self) -> Any:
        return self.aws.client("glue")

    def read(self) -> dict | None:
        found = absent_as_none(
            lambda: self.glue.get_table(DatabaseName=self.names.database, Name=self.names.table), NOT_FOUND
        )
        return found and found["Table"]

    def diff(self, current: dict | None) -> list[Action]:
        want = self.table_input()
        detail = f"over {self.names.lake_location}, partition projection on dt"
        if current is None:
            create = partial(self.glue.create_table, DatabaseName=self.names.database, TableInput=want)
            return [Action(self.label, "create", detail, create)]
        if covers(current, want):
            return []
        update = partial(self.glue.update_table, DatabaseName=self.names.database, TableInput=want)
        return [Action(self.label, "update", detail, update)]

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        delete = partial(self.glue.delete_table, DatabaseName=self.names.database, Name=self.names.table)
        return [Action(self.label, "delete", "", delete)]


class Workgroup:
    def __init__(self, aws: Aws, names: Names):
        self.aws = aws
        self.names = names
        self.label = f"athena workgroup {names.workgroup}"

    @property
    def athena(self) -> Any:
        return self.aws.client("athena")

    def configuration(self) -> dict:
        return {
            "ResultConfiguration": {"OutputLocation": self.names.athena_results},
            "EnforceWorkGroupConfiguration": True,
            "BytesScannedCutoffPerQuery": SCAN_LIMIT_BYTES,
        }

    def read(self) -> dict | None:
        try:
            found = self.athena.get_work_group(WorkGroup=self.names.workgroup)
        except ClientError as exc:
            if missing(exc, "InvalidRequestException"):  # Athena's "WorkGroup ... is not found"
                return None
            raise
        return found.get("WorkGroup")

    def diff(self, current: dict | None) -> list[Action]:
        want = self.configuration()
        detail = f"results in {self.names.athena_results}"
        if current is None:
            create = partial(
                self.athena.create_work_group,
                Name=self.names.workgroup,
                Configuration=want,
                Description="LogDig queries over the lake",
            )
            return [Action(self.label, "create", detail, create)]
        if covers(current.get("Configuration"), want):
            return []
        update = partial(
            self.athena.update_work_group,
            WorkGroup=self.names.workgroup,
            ConfigurationUpdates={
                "ResultConfigurationUpdates": want["ResultConfiguration"],
                "EnforceWorkGroupConfiguration": True,
                "BytesScannedCutoffPerQuery": SCAN_LIMIT_BYTES,
            },
        )
        return [Action(self.label, "update", detail, update)]

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        delete = partial(
            self.athena.delete_work_group, WorkGroup=self.names.workgroup, RecursiveDeleteOption=True
        )
        return [Action(self.label, "delete", "and its saved queries", delete)]
