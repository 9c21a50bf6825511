"""AWS access for the deployer: one boto3 session, lazily built clients, the account's identity."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cached_property
from typing import Any, TypeVar

import boto3
from botocore.exceptions import ClientError

from deploy.errors import DeployError, aws_errors
from logdig.aws import DEPLOY_CLIENT_CONFIG, error_code

T = TypeVar("T")

READ_PREFIXES = ("Get", "List", "Describe", "Head")


def is_mutating(operation: str) -> bool:
    """AWS names every read-only API Get*, List*, Describe* or Head*."""
    return not operation.startswith(READ_PREFIXES)


class Aws:
    """Region and credentials come from the standard AWS configuration only (env, profile, role)."""

    def __init__(self, session: boto3.Session | None = None, sleep: Callable[[float], None] = time.sleep):
        self.session = session or boto3.Session()
        self.sleep = sleep
        self._clients: dict[str, Any] = {}
        self.calls: list[str] = []  # "service.Operation", in the order made
        self._reads_only = False
        # Registered before any client exists: clients copy the session's hooks when built.
        self.session.events.register("before-call", self._before_call)

    def _before_call(self, model: Any, **_: Any) -> None:
        call = f"{model.service_model.service_name}.{model.name}"
        if self._reads_only and is_mutating(model.name):
            raise DeployError(call, "refused: planning must not change anything")
        self.calls.append(call)

    def mutating_calls(self) -> list[str]:
        return [call for call in self.calls if is_mutating(call.split(".", 1)[1])]

    @contextmanager
    def reads_only(self) -> Iterator[None]:
        """Inside, any call that could change something raises instead of being sent."""
        self._reads_only = True
        try:
            yield
        finally:
            self._reads_only = False

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.session.client(
                service, region_name=self.region, config=DEPLOY_CLIENT_CONFIG
            )
        return self._clients[service]

    @cached_property
    def region(self) -> str:
        # botocore reads AWS_DEFAULT_REGION and the profile; the other SDKs and the CLI v2 AWS_REGION.
        region = self.session.region_name or os.environ.get("AWS_REGION")
        if not region:
            raise DeployError(
                "aws configuration", "no region: set AWS_REGION or AWS_DEFAULT_REGION, or a profile's region"
            )
        return region

    @cached_property
    def partition(self) -> str:
        return self.session.get_partition_for_region(self.region)

    @cached_property
    def account(self) -> str:
        with aws_errors("aws account (sts get-caller-identity)"):
            return self.client("sts").get_caller_identity()["Account"]

    def until_propagated(
        self, call: Callable[[], T], is_pending: Callable[[ClientError], bool], attempts: int = 8
    ) -> T:
        """Retry `call` while AWS has not yet seen a new IAM role (bounded: about a minute)."""
        delay = 2.0
        for attempt in range(attempts):
            try:
                return call()
            except ClientError as exc:
                if attempt == attempts - 1 or not is_pending(exc):
                    raise
            self.sleep(delay)
            delay = min(delay * 1.5, 15.0)
        raise AssertionError("unreachable")


def absent_as_none(call: Callable[[], T], *codes: str) -> T | None:
    """call(), or None when AWS answers with one of `codes`: the thing looked up does not exist."""
    try:
        return call()
    except ClientError as exc:
        if error_code(exc) in codes:
            return None
        raise


def missing(exc: ClientError, *codes: str) -> bool:
    """True when the error says the thing looked up does not exist."""
    return error_code(exc) in codes
