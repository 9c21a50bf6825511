"""The Lambda zip and the Beanstalk source bundle, byte-for-byte reproducible.

Same files in, same bytes out (fixed timestamps, sorted names), so unchanged code has the same
SHA-256 as what is deployed and a rerun uploads nothing.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from deploy.errors import DeployError

LAMBDA_PATHS = ("lambda_sqs_to_s3", "logdig", "config.py")
LAMBDA_REQUIRED = ("lambda_sqs_to_s3/handler.py", "config.py")
LAMBDA_HANDLER = "lambda_sqs_to_s3.handler.lambda_handler"

BEANSTALK_PATHS = ("app", "logdig", "config.py", "requirements.txt", "static")
BEANSTALK_REQUIRED = ("app/__init__.py", "config.py", "requirements.txt")
# Beanstalk's nginx forwards to port 8000; app.server (in the bundle) reads workers and threads
# from the settings as local mode does (README: collector performance).
PROCFILE = "web: python -m app.server --host 0.0.0.0 --port 8000\n"

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
SKIPPED_DIRS = {"__pycache__", "tests", ".pytest_cache"}


def _files(root: Path, paths: Iterable[str], only_py: bool) -> Iterator[tuple[str, Path]]:
    for top in paths:
        base = root / top
        candidates = [base] if base.is_file() else sorted(base.rglob("*"))
        for path in candidates:
            relative = path.relative_to(root)
            if not path.is_file() or SKIPPED_DIRS.intersection(relative.parts[:-1]):
                continue
            if path.suffix == ".pyc" or (only_py and path.suffix != ".py"):
                continue
            yield relative.as_posix(), path


def _require(what: str, names: set[str], required: Iterable[str]) -> None:
    absent = [name for name in required if name not in names]
    if absent:
        raise DeployError(what, f"missing from the source tree: {', '.join(absent)}")


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_EPOCH)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16  # readable by Lambda's sandbox user
            archive.writestr(info, entries[name])
    return buffer.getvalue()


def lambda_zip(root: Path) -> bytes:
    """Only the .py files of the handler, the core package and config.py: the runtime has boto3."""
    entries = {name: path.read_bytes() for name, path in _files(root, LAMBDA_PATHS, only_py=True)}
    _require("lambda zip", set(entries), LAMBDA_REQUIRED)
    return _zip(entries)


def beanstalk_bundle(root: Path) -> bytes:
    """The collector, the core, its requirements and static files, started by a Procfile."""
    entries = {name: path.read_bytes() for name, path in _files(root, BEANSTALK_PATHS, False)}
    _require("beanstalk bundle", set(entries), BEANSTALK_REQUIRED)
    entries["Procfile"] = PROCFILE.encode()
    return _zip(entries)


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
