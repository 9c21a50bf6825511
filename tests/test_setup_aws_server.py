"""The command itself, run twice against moto's server on loopback through AWS_ENDPOINT_URL."""

from __future__ import annotations

import os
import subprocess
import sys

import boto3
import pytest
from moto.server import ThreadedMotoServer

import setup_aws

pytestmark = pytest.mark.slow


@pytest.fixture
def endpoint():
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def setup_aws_py(endpoint: str, *argv: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGDIG_", "AWS_"))}
    env.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    script = str(setup_aws.ROOT / "setup_aws.py")
    return subprocess.run(
        [sys.executable, script, *argv], env=env, capture_output=True, text=True, timeout=300
    )


def test_deploy_twice_then_destroy_through_the_endpoint(endpoint):
    s3 = boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    dry = setup_aws_py(endpoint, "deploy", "--skip-collector", "--skip-compaction", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "create  lambda function logdig-drain" in dry.stdout
    assert s3.list_buckets()["Buckets"] == []  # the dry run created nothing

    first = setup_aws_py(endpoint, "deploy", "--skip-collector", "--skip-compaction")
    assert first.returncode == 0, first.stderr
    assert "create lambda function logdig-drain" in first.stdout
    assert "athena table: logdig.events (workgroup logdig)" in first.stdout

    second = setup_aws_py(endpoint, "deploy", "--skip-collector", "--skip-compaction")
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("no changes\n")

    gone = setup_aws_py(endpoint, "destroy")
    assert gone.returncode == 0, gone.stderr
    assert setup_aws_py(endpoint, "destroy").stdout.startswith("no changes\n")
    assert len(s3.list_buckets()["Buckets"]) == 1  # the kept lake
