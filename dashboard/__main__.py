"""python -m dashboard: the LogDig dashboard against any lake, without the collector.

  python -m dashboard --lake s3://my-lake-bucket/ [--host 127.0.0.1] [--port 8050]
  python -m dashboard hash-password      # prints a LOGDIG_DASHBOARD_PASSWORD_HASH value
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import os
import sys
from pathlib import Path

from config import ConfigError, load_settings
from dashboard.standalone import LAKE_ENV, STORE_ENV

ROOT = Path(__file__).resolve().parent.parent


def _serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", help="file:///dir, a directory or s3://bucket/prefix (default: the "
                        "lake config.py points at: LOGDIG_BUCKET, else LOGDIG_DATA_DIR/lake)")
    parser.add_argument("--host", help="address to listen on (default LOGDIG_HOST, 127.0.0.1); off "
                        "loopback a LOGDIG_DASHBOARD_PASSWORD[_HASH] is required")
    parser.add_argument("--port", type=int, default=8050, help="port (8050)")
    parser.add_argument("--store", help="query store file the reports answer from, loaded from the "
                        "lake on first use and kept up to date (default: LOGDIG_DATA_DIR/"
                        "dashboard-<lake hash>.duckdb)")
    parser.add_argument("--no-store", action="store_true", help="read the lake for every report")
    args = parser.parse_args(argv)
    env = {**os.environ}
    if args.lake:
        env[LAKE_ENV] = args.lake
    if args.host:
        env["LOGDIG_HOST"] = args.host
    try:
        settings = load_settings(env)
    except ConfigError as exc:
        print(f"logdig dashboard: configuration error: {exc}", file=sys.stderr)
        return 2
    if not args.no_store:
        lake_hash = hashlib.sha256((args.lake or "configured").encode()).hexdigest()[:12]
        store = Path(args.store) if args.store else settings.data_dir / f"dashboard-{lake_hash}.duckdb"
        store.parent.mkdir(parents=True, exist_ok=True)
        env[STORE_ENV] = str(store.resolve())
    print(f"LogDig dashboard on http://{settings.host}:{args.port}/dashboard\n"
          f"lake: {args.lake or 'as configured'}\nstore: {env.get(STORE_ENV, 'none (--no-store)')}\n"
          "Ctrl-C to stop.", file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "gunicorn", "--bind", f"{settings.host}:{args.port}",
               "--workers", "1", "--threads", "8", "--worker-class", "gthread",
               "--log-level", "warning", "dashboard.standalone:create_app()"]
    # gunicorn replaces this process, so Ctrl-C and SIGTERM reach it directly (no orphan).
    os.chdir(ROOT)
    os.execve(sys.executable, command, env)
    return 0  # not reached


def _hash_password() -> int:
    from werkzeug.security import generate_password_hash

    password = getpass.getpass("Dashboard password: ")
    if not password or password != getpass.getpass("Again: "):
        print("the two entries differ (or are empty)", file=sys.stderr)
        return 2
    print(generate_password_hash(password))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["hash-password"]:
        return _hash_password()
    return _serve(argv)


if __name__ == "__main__":
    sys.exit(main())
