"""AWS client configuration and error codes, for LogDig and its deployer: boto3 clients built
lazily (never at import, so tests' mocks and forked workers get their own), and the one place where
AWS errors become LogDig errors."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

# Fail fast: a collector must answer 503 within seconds when the queue is unreachable,
# not hang on botocore's default 60 s timeouts.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=25,  # above SQS's 20 s long-poll wait
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=32,
)
# The deployer is patient instead: control-plane APIs throttle, and nothing waits on its answer.
# Standard retry mode already backs off on throttling; adaptive adds client-side rate limiting.
DEPLOY_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


def client(service: str, default_region: str):
    session = boto3.session.Session()
    return session.client(service, region_name=session.region_name or default_region,
                          config=CLIENT_CONFIG)


def error_code(exc: BaseException) -> str:
    """AWS's error code of a ClientError ("" when it has none), else the exception's type name."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code", "")
    return type(exc).__name__


@contextlib.contextmanager
def translate(error: type[Exception], what: str) -> Iterator[None]:
    """Re-raise AWS/botocore failures as `error` with a one-line cause naming `what`."""
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise error(f"{what}: {error_code(exc) or type(exc).__name__}: {exc}") from exc
