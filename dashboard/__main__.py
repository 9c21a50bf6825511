"""python -m dashboard: the LogDig dashboard against any lake, without the collector.

  python -m dashboard --lake s3://my-lake-bucket/ [--host 127.0.0.1] [--port 8050]
  python -m dashboard hash-password      # prints a LOGDIG_DASHBOARD_PASSWORD_HASH value
"""

from __future__ import annotations

import argparse
import getpass
import os
import subprocess
import sys
from pathlib import Path

from config import ConfigError, load_settings
from dashboard.standalone import LAKE_ENV

ROOT = Path(__file__).resolve().parent.parent


def _serve(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__.splitlines()[0])
    parser.add_argument("--lake", help="file:///dir, a directory or s3://bucket/prefix (default: the "
                        "lake config.py points at: LOGDIG_BUCKET, else LOGDIG_DATA_DIR/lake)")
    parser.add_argument("--host", help="address to listen on (default LOGDIG_HOST, 127.0.0.1); off "
                        "loopback a LOGDIG_DASHBOARD_PASSWORD[_HASH] is required")
    parser.add_argument("--port", type=int, default=8050, help="port (8050)")
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
    print(f"LogDig dashboard on http://{settings.host}:{args.port}/dashboard\n"
          f"lake: {args.lake or 'as configured'}\nCtrl-C to stop.", file=sys.stderr, flush=True)
    command = [sys.executable, "-m", "gunicorn", "--bind", f"{settings.host}:{args.port}",
               "--workers", "1", "--threads", "8", "--worker-class", "gthread",
               "--log-level", "warning", "dashboard.standalone:create_app()"]
    try:
        return subprocess.call(command, cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0


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
