"""What setup_aws.py ships: the Lambda zip (unpacked, it drains a moto queue into a moto bucket)
and the Beanstalk bundle (its Procfile command starts the collector)."""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import requests

import setup_aws
from app import server
from app.__main__ import server_command
from config import load_settings
from deploy import bundles
from tests.localserver import free_port

VENV_BIN = Path(sys.executable).parent
ROOT = setup_aws.ROOT
KEY_RE = re.compile(r"^events/dt=2026-11-23/[0-9a-f]{64}\.jsonl\.gz$")


def unpack(data: bytes, into: Path) -> Path:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(into)
    return into


def names_in(data: bytes) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return archive.namelist()


def test_lambda_zip_holds_only_the_python_it_needs():
    names = names_in(bundles.lambda_zip(ROOT))
    assert "lambda_sqs_to_s3/handler.py" in names
    assert "logdig/drain.py" in names
    assert "config.py" in names
    assert all(name.endswith(".py") for name in names)
    assert not [n for n in names if n.split("/")[0] not in ("lambda_sqs_to_s3", "logdig", "config.py")]
    assert not [n for n in names if "__pycache__" in n or "/tests/" in n]


def test_bundles_are_reproducible_byte_for_byte():
    # Unchanged code must hash the same, or every rerun would upload again.
    assert bundles.lambda_zip(ROOT) == bundles.lambda_zip(ROOT)
    assert bundles.beanstalk_bundle(ROOT) == bundles.beanstalk_bundle(ROOT)


def test_a_missing_handler_is_named(tmp_path):
    (tmp_path / "config.py").write_text("")
    with pytest.raises(bundles.DeployError, match="lambda_sqs_to_s3/handler.py"):
        bundles.lambda_zip(tmp_path)


# Runs inside the unpacked zip (its directory first on sys.path, the repository nowhere), so the
# handler imports only what the zip holds; moto stands in for SQS and S3.
DRAIN_SCRIPT = """
import gzip, json, os, sys
import boto3
from moto import mock_aws

class Context:
    def get_remaining_time_in_millis(self):
        return 120_000

with mock_aws():
    sqs, s3 = boto3.client("sqs"), boto3.client("s3")
    url = sqs.create_queue(QueueName="logdig-events")["QueueUrl"]
    s3.create_bucket(Bucket="lake")
    os.environ.update(LOGDIG_QUEUE_URL=url, LOGDIG_BUCKET="lake", LOGDIG_MIN_MESSAGES="1")
    import config, logdig, lambda_sqs_to_s3
    from logdig import events, packing
    lines = [
        packing.dumps(events.enrich(
            events.validate({"event_type": "click", "event_id": f"e{i}", "x": i, "y": 2 * i}),
            "2026-11-23T10:15:30.123Z", "203.0.113.0"))
        for i in range(int(sys.argv[1]))
    ]
    for body in packing.pack(lines, 1024):  # small messages: several of them
        sqs.send_message(QueueUrl=url, MessageBody=body)
    from lambda_sqs_to_s3.handler import lambda_handler
    summary = lambda_handler({}, Context())
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lake").get("Contents", [])]
    stored = [json.loads(line) for key in keys for line in gzip.decompress(
        s3.get_object(Bucket="lake", Key=key)["Body"].read()).splitlines()]
    left = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    print(json.dumps({
        "summary": summary, "keys": keys, "stored": stored,
        "left": int(left["ApproximateNumberOfMessages"])
        + int(left["ApproximateNumberOfMessagesNotVisible"]),
        "files": [m.__file__ for m in (config, logdig, lambda_sqs_to_s3)],
    }))
"""


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOGDIG_", "AWS_"))}
    env.pop("PYTHONPATH", None)
    return {**env, **extra}


@pytest.mark.process
def test_unpacked_lambda_zip_drains_a_queue_into_the_lake(tmp_path):
    unpacked = unpack(bundles.lambda_zip(ROOT), tmp_path / "lambda")
    env = clean_env(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    done = subprocess.run(
        [sys.executable, "-c", DRAIN_SCRIPT, "250"],
        cwd=unpacked,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.splitlines()[-1])
    assert all(Path(f).is_relative_to(unpacked) for f in result["files"]), result["files"]
    assert result["summary"]["events"] == 250
    assert result["summary"]["messages"] > 1
    assert result["keys"] and all(KEY_RE.match(key) for key in result["keys"])
    assert sorted(e["event_id"] for e in result["stored"]) == sorted(f"e{i}" for i in range(250))
    assert {e["client_ip"] for e in result["stored"]} == {"203.0.113.0"}
    assert result["left"] == 0  # every message was deleted once its object was stored


def test_beanstalk_bundle_holds_collector_core_static_and_a_procfile():
    names = set(names_in(bundles.beanstalk_bundle(ROOT)))
    assert {"Procfile", "requirements.txt", "config.py", "app/__init__.py"} <= names
    assert {"logdig/queues.py", "static/clickTracker.js"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert not [n for n in names if n.split("/")[0] in ("tests", "lambda_sqs_to_s3", ".venv")]


def procfile_command(bundle_dir: Path) -> list[str]:
    (line,) = [ln for ln in (bundle_dir / "Procfile").read_text().splitlines() if ln.strip()]
    kind, _, command = line.partition(":")
    assert kind == "web"
    return shlex.split(command)


@pytest.mark.process
@pytest.mark.slow
def test_procfile_command_starts_the_collector_and_answers_get_root(tmp_path):
    bundle_dir = unpack(bundles.beanstalk_bundle(ROOT), tmp_path / "bundle")
    command = procfile_command(bundle_dir)
    assert command[:3] == ["python", "-m", "app.server"]
    assert command[command.index("--port") + 1] == "8000"
    # Same command; only the address moves to a free loopback port.
    command[command.index("--host") + 1] = "127.0.0.1"
    command[command.index("--port") + 1] = str(port := free_port())
    env = clean_env(LOGDIG_DATA_DIR=str(tmp_path / "data"), PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    server = subprocess.Popen(command, cwd=bundle_dir, env=env, stderr=subprocess.PIPE, text=True)
    try:
        url = f"http://127.0.0.1:{port}"
        answer = get_when_up(url + "/", server)
        assert answer.status_code == 200
        assert answer.json() == {"RESTful Server": "Success"}
        tracker = requests.get(url + "/clickTracker.js", timeout=10)
        assert tracker.text == (ROOT / "static" / "clickTracker.min.js").read_text()
    finally:
        server.terminate()
        server.wait(timeout=30)
        server.stderr.close()


def get_when_up(url: str, server: subprocess.Popen, timeout: float = 60) -> requests.Response:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.poll() is None:
        try:
            return requests.get(url, timeout=10)
        except requests.ConnectionError:
            time.sleep(0.2)
    raise AssertionError("the Procfile command exited or never listened:\n" + server.stderr.read())


def test_beanstalk_and_local_mode_take_workers_and_threads_from_the_settings(tmp_path, monkeypatch):
    # GIVEN settings for workers and threads, and granian replaced by a recorder of its options
    monkeypatch.setenv("LOGDIG_WORKERS", "3")
    monkeypatch.setenv("LOGDIG_THREADS", "5")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path / "metrics"))
    seen = {}

    class Recorder:
        def __init__(self, target, **options):
            seen.update(options, target=target)

        def serve(self):
            seen["served"] = True

    monkeypatch.setattr("granian.Granian", Recorder)
    # WHEN the Procfile's command runs app.server
    procfile = procfile_command(unpack(bundles.beanstalk_bundle(ROOT), tmp_path / "bundle"))
    assert server.main(procfile[3:]) == 0
    # THEN the server gets them from the settings, and neither the Procfile nor local mode's
    # command states its own
    assert (seen["workers"], seen["blocking_threads"], seen["served"]) == (3, 5, True)
    assert (seen["address"], seen["port"]) == ("0.0.0.0", 8000)
    for command in (procfile, server_command(load_settings())):
        assert not {"--workers", "--threads", "--blocking-threads"} & set(command)
