"""The batcher Lambda and its log group."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from deploy.aws import Aws, absent_as_none
from deploy.bundles import LAMBDA_HANDLER
from deploy.names import Names
from deploy.plan import Action
from logdig.aws import error_code

RUNTIME = "python3.13"
LOG_RETENTION_DAYS = 30
WAIT = {"Delay": 2, "MaxAttempts": 90}


class LogGroup:
    """Created up front with a retention, so the Lambda needs no logs:CreateLogGroup."""

    def __init__(self, aws: Aws, names: Names, name: str = ""):
        self.aws = aws
        self.name = name or names.log_group  # the batcher's by default
        self.label = f"log group {self.name}"

    @property
    def logs(self) -> Any:
        return self.aws.client("logs")

    def read(self) -> dict | None:
        groups = self.logs.describe_log_groups(logGroupNamePrefix=self.name)["logGroups"]
        return next((g for g in groups if g["logGroupName"] == self.name), None)

    def diff(self, current: dict | None) -> list[Action]:
        actions = []
        if current is None:
            actions.append(Action(self.label, "create", "", self._create))
        if current is None or current.get("retentionInDays") != LOG_RETENTION_DAYS:
            actions.append(Action(self.label, "update", f"keep {LOG_RETENTION_DAYS} days", self._retain))
        return actions

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        delete = partial(self.logs.delete_log_group, logGroupName=self.name)
        return [Action(self.label, "delete", "", delete)]

    def _create(self) -> None:
        self.logs.create_log_group(logGroupName=self.name)

    def _retain(self) -> None:
        self.logs.put_retention_policy(logGroupName=self.name, retentionInDays=LOG_RETENTION_DAYS)


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's CodeSha256: base64 of the zip's SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def role_not_ready(exc: ClientError) -> bool:
    """A role created seconds ago that Lambda cannot assume yet (IAM is eventually consistent)."""
    message = exc.response.get("Error", {}).get("Message", "").lower()
    return error_code(exc) == "InvalidParameterValueException" and "role" in message


class DrainFunction:
    def __init__(
        self,
        aws: Aws,
        names: Names,
        code: bytes,
        memory_mb: int,
        timeout_seconds: int,
        environment: Callable[[], dict[str, str]],
        role: str = "",
        name: str = "",
        handler: str = LAMBDA_HANDLER,
        description: str = "LogDig batcher: drains the queue into the lake",
    ):
        self.aws = aws
        self.names = names
        self.code = code
        self.memory_mb = memory_mb
        self.timeout_seconds = timeout_seconds
        self.environment = environment
        # The batcher by default; the daily compaction is the same kind of function.
        self.role = role or names.drain_role
        self.name = name or names.function
        self.handler = handler
        self.description = description
        self.label = f"lambda function {self.name}"

    @property
    def awslambda(self) -> Any:
        return self.aws.client("lambda")

    def configuration(self) -> dict[str, Any]:
        return {
            "Runtime": RUNTIME,
            "Handler": self.handler,
            "Role": self.names.role_arn(self.role),
            "MemorySize": self.memory_mb,
            "Timeout": self.timeout_seconds,
            "Environment": {"Variables": self.environment()},
        }

    def read(self) -> dict | None:
        found = absent_as_none(
            partial(self.awslambda.get_function, FunctionName=self.name),
            "ResourceNotFoundException",
        )
        return found and found["Configuration"]

    def changed(self, current: dict) -> list[str]:
        # Lambda leaves Environment out altogether when a function has no variables.
        variables = (current.get("Environment") or {}).get("Variables", {})
        have = {**current, "Environment": {"Variables": variables}}
        return [key for key, want in self.configuration().items() if have.get(key) != want]

    def diff(self, current: dict | None) -> list[Action]:
        if current is None:
            detail = f"{RUNTIME}, {self.memory_mb} MB, {self.timeout_seconds} s"
            return [Action(self.label, "create", detail, self._create)]
        actions = []
        if current.get("CodeSha256") != code_sha256(self.code):
            actions.append(Action(self.label, "upload", "new code", self._upload))
        changed = self.changed(current)
        if changed:
            actions.append(Action(self.label, "update", ", ".join(changed), self._configure))
        return actions

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        delete = partial(self.awslambda.delete_function, FunctionName=self.name)
        return [Action(self.label, "delete", "", delete)]

    def _create(self) -> None:
        self.aws.until_propagated(
            lambda: self.awslambda.create_function(
                FunctionName=self.name,
                Code={"ZipFile": self.code},
                Architectures=["arm64"],  # pure Python: Graviton is the cheaper price
                Description=self.description,
                **self.configuration(),
            ),
            role_not_ready,
        )
        self._wait("function_active_v2")

    def _upload(self) -> None:
        self.awslambda.update_function_code(FunctionName=self.name, ZipFile=self.code)
        self._wait("function_updated_v2")

    def _configure(self) -> None:
        self.aws.until_propagated(
            lambda: self.awslambda.update_function_configuration(
                FunctionName=self.name, **self.configuration()
            ),
            role_not_ready,
        )
        self._wait("function_updated_v2")

    def _wait(self, waiter: str) -> None:
        """Lambda refuses the next change while an update is in progress."""
        self.awslambda.get_waiter(waiter).wait(FunctionName=self.name, WaiterConfig=WAIT)
