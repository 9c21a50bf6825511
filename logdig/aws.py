"""AWS client configuration and error codes, for LogDig and its deployer: boto3 clients built
lazily (never at import, so tests' mocks and forked workers get their own), and the one place where
AWS errors become LogDig errors. boto3 itself is imported only where a boto3 session is made: the
collector's queue clients come from a botocore session (session_for), and boto3's resource and
transfer modules would cost its workers ~2 MB each for nothing."""

from __future__ import annotations

import contextlib
import json
import os
import typing
from collections import OrderedDict
from collections.abc import Iterator

import botocore.session
import msgspec
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from botocore.loaders import JSONFileLoader, create_loader

if typing.TYPE_CHECKING:
    import boto3

# The lake's client (S3): patient enough for a 64 MB PUT, never botocore's default 60 s per read.
CLIENT_CONFIG = Config(
    connect_timeout=2,
    read_timeout=25,  # above SQS's 20 s long-poll wait
    retries={"max_attempts": 3, "mode": "standard"},
    max_pool_connections=32,
)
# The deployer is patient instead: control-plane APIs throttle, and nothing waits on its answer.
# Standard retry mode already backs off on throttling; adaptive adds client-side rate limiting.
DEPLOY_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 8})


# A ping (/readyz) must answer within a second, whatever the queue does.
PING_SECONDS = 1.0


def queue_client_config(seconds: float) -> Config:
    """The queue's client: one attempt bounded by `seconds` (connect plus read), no retries of
    its own. The caller retries within its deadline (logdig.queues), so a stalled or unreachable
    queue costs LOGDIG_QUEUE_RETRY_SECONDS, not botocore's 25 s reads times 3 attempts."""
    connect = min(2.0, seconds / 3)
    return Config(connect_timeout=connect, read_timeout=max(seconds - connect, 0.1),
                  retries={"total_max_attempts": 1, "mode": "standard"},
                  max_pool_connections=32,
                  # The entries are built by logdig.queues, never from client input: botocore's
                  # walk over them costs CPU on every send (~2% of the collector's GIL time).
                  parameter_validation=False)


def client(service: str, default_region: str, config: Config = CLIENT_CONFIG,
           session: boto3.session.Session | botocore.session.Session | None = None):
    """A client from `session`, boto3's or botocore's (default: a new boto3 one). Clients of one
    session share its loaded service models: a second SQS client from the same session costs
    ~0.1 MB, from a new one ~9."""
    if isinstance(session, botocore.session.Session):
        return session.create_client(
            service, region_name=session.get_config_variable("region") or default_region,
            config=config)
    import boto3

    session = session or boto3.session.Session()
    return session.client(service, region_name=session.region_name or default_region,
                          config=config)


class _EndpointsOf(JSONFileLoader):
    """botocore's JSON file loader, giving of endpoints.json (the legacy endpoint data of every
    service in every partition) only the entries of `services`. Parsed whole, as botocore does,
    it holds ~7 MB of OrderedDicts for a process's life (~9% of a collector worker's RSS), and
    even parsed then cut, the memory it took stays with the process: so the other services'
    entries are skipped undecoded (msgspec.Raw), the rest decoded as botocore decodes it."""

    def __init__(self, services: tuple[str, ...]):
        self.services = services

    def load_file(self, file_path):
        if os.path.basename(file_path) != "endpoints" or not os.path.isfile(file_path + ".json"):
            return super().load_file(file_path)
        with open(file_path + ".json", "rb") as file:
            document = msgspec.json.decode(file.read(), type=dict[str, msgspec.Raw])
        return OrderedDict((key, self._partitions(raw) if key == "partitions" else _ordered(raw))
                           for key, raw in document.items())

    def _partitions(self, raw: msgspec.Raw) -> list[OrderedDict]:
        return [self._partition(one) for one in msgspec.json.decode(raw, type=list[msgspec.Raw])]

    def _partition(self, raw: msgspec.Raw) -> OrderedDict:
        partition = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
        return OrderedDict((key, self._services(value) if key == "services" else _ordered(value))
                           for key, value in partition.items())

    def _services(self, raw: msgspec.Raw) -> OrderedDict:
        services = msgspec.json.decode(raw, type=dict[str, msgspec.Raw])
        return OrderedDict((name, _ordered(value)) for name, value in services.items()
                           if name in self.services)


def _ordered(raw: bytes) -> object:
    """JSON as botocore's loader decodes it (objects as OrderedDicts)."""
    return json.loads(bytes(raw), object_pairs_hook=OrderedDict)


def session_for(*services: str) -> botocore.session.Session:
    """A botocore session for clients of these services only: the same endpoints, credentials
    and settings as a boto3 session's, without the endpoint data of every other service
    (_EndpointsOf)."""
    core = botocore.session.get_session()
    loader = create_loader(core.get_config_variable("data_path"))
    loader.file_loader = _EndpointsOf(services)
    core.register_component("data_loader", loader)
    return core


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
