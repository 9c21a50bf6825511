"""Daily compaction in AWS: a Lambda running the project's own `compact` (analysis/daily.py) on an
EventBridge schedule, so yesterday's partition becomes Parquet with no laptop involved.

Why a Lambda and not an Athena INSERT: reports read `parquet/dt=D/events.parquet` whose footer
names the NDJSON objects it holds (analysis/lake_files.py); the same code writing it everywhere
keeps that contract, and a rerun that finds the footer up to date writes nothing. The package is
the analysis, core and config .py files plus DuckDB's manylinux aarch64 wheel (about 22 MB zipped,
under Lambda's 50 MB direct-upload limit); the runtime brings boto3.
"""

from __future__ import annotations

import io
import re
import subprocess
import sys
import zipfile
from pathlib import Path

from deploy import bundles
from deploy.errors import DeployError
from deploy.function import RUNTIME
from deploy.names import Names
from logdig.lake_layout import parquet_prefix_for

HANDLER = "analysis.daily.lambda_handler"
PATHS = ("analysis", "logdig", "config.py")
REQUIRED = ("analysis/daily.py", "analysis/compact.py", "config.py")
SCHEDULE = "cron(20 0 * * ? *)"  # 00:20 UTC: yesterday is complete and its last drain stored
MEMORY_MB = 1024
TIMEOUT_SECONDS = 900
WHEEL_CACHE = Path.home() / ".cache" / "logdig" / "wheels"
PLATFORMS = ("manylinux_2_28_aarch64", "manylinux2014_aarch64")  # Lambda arm64, Amazon Linux 2023


def duckdb_pin(root: Path) -> str:
    """The DuckDB version local mode uses (requirements-analysis.txt), so both compact alike."""
    text = (root / "requirements-analysis.txt").read_text()
    found = re.search(r"^duckdb==(\S+)", text, re.MULTILINE)
    if not found:
        raise DeployError("compaction package", "requirements-analysis.txt pins no duckdb==VERSION")
    return found.group(1)


def fetch_duckdb_wheel(root: Path, cache: Path = WHEEL_CACHE) -> Path:
    """DuckDB's wheel for Lambda's platform and Python, downloaded once by pip into `cache`."""
    version = duckdb_pin(root)
    found = sorted(cache.glob(f"duckdb-{version}-*aarch64*.whl"))
    if found:
        return found[-1]
    python = RUNTIME.removeprefix("python")
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        f"duckdb=={version}",
        "--no-deps",
        "--only-binary=:all:",
        "--python-version",
        python,
        "--implementation",
        "cp",
        "-d",
        str(cache),
        *(arg for p in PLATFORMS for arg in ("--platform", p)),
    ]
    done = subprocess.run(command, capture_output=True, text=True)
    found = sorted(cache.glob(f"duckdb-{version}-*aarch64*.whl"))
    if done.returncode or not found:
        last = (done.stderr.strip().splitlines() or ["no wheel"])[-1]
        raise DeployError(
            "compaction package",
            f"pip could not fetch duckdb=={version} for Lambda: {last} "
            "(download it elsewhere and pass --duckdb-wheel PATH)",
        )
    return found[-1]


def lambda_zip(root: Path, wheel: Path) -> bytes:
    """The daily job's code and DuckDB, unpacked from its wheel; same inputs, same bytes."""
    entries = {name: path.read_bytes() for name, path in bundles._files(root, PATHS, only_py=True)}
    bundles._require("compaction zip", set(entries), REQUIRED)
    try:
        with zipfile.ZipFile(io.BytesIO(wheel.read_bytes())) as archive:
            for info in archive.infolist():
                if not info.is_dir() and ".dist-info/" not in info.filename:
                    entries[info.filename] = archive.read(info)
    except (OSError, zipfile.BadZipFile) as exc:
        raise DeployError(f"--duckdb-wheel {str(wheel)!r}", f"not a readable wheel: {exc}") from exc
    if not any(name.startswith("duckdb/") for name in entries):
        raise DeployError(f"--duckdb-wheel {str(wheel)!r}", "holds no duckdb package")
    return bundles._zip(entries)


def role_policy(names: Names) -> dict:
    """List and read the day's NDJSON and Parquet, write Parquet, write its own logs."""
    parquet = parquet_prefix_for(names.lake_prefix)
    bucket = names.bucket_arn
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ListLakeDays",
                "Effect": "Allow",
                "Action": "s3:ListBucket",
                "Resource": bucket,
                "Condition": {"StringLike": {"s3:prefix": [f"{names.lake_prefix}*", f"{parquet}*"]}},
            },
            {
                "Sid": "ReadLake",
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": [f"{bucket}/{names.lake_prefix}*", f"{bucket}/{parquet}*"],
            },
            {
                "Sid": "WriteParquet",
                "Effect": "Allow",
                "Action": ["s3:AbortMultipartUpload", "s3:PutObject"],
                "Resource": f"{bucket}/{parquet}*",
            },
            {
                "Sid": "WriteLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{names.log_group_arn_of(log_group(names))}:*",
            },
        ],
    }


def log_group(names: Names) -> str:
    return f"/aws/lambda/{names.compact_function}"


def environment(names: Names) -> dict[str, str]:
    return {
        "LOGDIG_SERVICE_NAME": names.service,
        "LOGDIG_BUCKET": names.bucket,
        "LOGDIG_LAKE_PREFIX": names.lake_prefix,
        "LOGDIG_AWS_REGION": names.region,
        "HOME": "/tmp",  # DuckDB keeps its home directory state there; the rest is read-only
    }
