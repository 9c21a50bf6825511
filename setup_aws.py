"""Deploy LogDig to AWS, safely and repeatably: `python setup_aws.py deploy [--dry-run]`.

Region and credentials come from the standard AWS configuration (AWS_REGION, AWS_PROFILE, ...);
resource names from LOGDIG_SERVICE_NAME. Every run plans first: it reads what exists, prints what
it would change, and (without --dry-run) applies only that. `destroy` removes what deploy made
and keeps the lake bucket unless --delete-data is given.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TextIO

from config import ConfigError, load_settings
from deploy.aws import Aws
from deploy.errors import DeployError
from deploy.stack import Options, Stack

ROOT = Path(__file__).resolve().parent
DEFAULTS = Options()
SCHEDULE_RE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")


def _bounded(lo: int, hi: int) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number") from None
        if not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{value} is not between {lo} and {hi}")
        return value

    return parse


def _schedule(raw: str) -> str:
    if not SCHEDULE_RE.match(raw):
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an EventBridge schedule such as 'rate(5 minutes)' or 'cron(0/5 * * * ? *)'"
        )
    return raw


def parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="setup_aws.py", description=__doc__.splitlines()[0])
    commands = top.add_subparsers(dest="command", required=True)
    deploy = commands.add_parser("deploy", help="create or update the stack")
    deploy.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    deploy.add_argument(
        "--skip-collector", action="store_true", help="everything but the Beanstalk collector"
    )
    deploy.add_argument(
        "--lambda-memory",
        type=_bounded(128, 10240),
        default=DEFAULTS.lambda_memory_mb,
        metavar="MB",
        help="batcher memory (default %(default)s)",
    )
    deploy.add_argument(
        "--lambda-timeout",
        type=_bounded(35, 900),
        default=DEFAULTS.lambda_timeout_seconds,
        metavar="SECONDS",
        help="the batcher stops 30 s before this to leave time to store (default %(default)s)",
    )
    deploy.add_argument(
        "--schedule",
        type=_schedule,
        default=DEFAULTS.schedule,
        help="how often the batcher runs (default %(default)s)",
    )
    deploy.add_argument(
        "--expire-events-days",
        type=_bounded(1, 36500),
        default=None,
        metavar="DAYS",
        help="delete lake objects this many days old (default: keep forever)",
    )
    deploy.add_argument(
        "--instance-type", default=DEFAULTS.instance_type, help="collector EC2 type (default %(default)s)"
    )
    destroy = commands.add_parser("destroy", help="remove what deploy created")
    destroy.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    destroy.add_argument("--delete-data", action="store_true", help="also empty and delete the lake bucket")
    return top


def options_from(args: argparse.Namespace) -> Options:
    if args.command == "destroy":
        return Options(delete_data=args.delete_data)
    return Options(
        skip_collector=args.skip_collector,
        lambda_memory_mb=args.lambda_memory,
        lambda_timeout_seconds=args.lambda_timeout,
        schedule=args.schedule,
        expire_events_days=args.expire_events_days,
        instance_type=args.instance_type,
    )


def run(args: argparse.Namespace, out: TextIO, aws: Aws | None = None, env=None) -> None:
    env = os.environ if env is None else env
    stack = Stack(aws or Aws(), load_settings(env), env, options_from(args), ROOT)
    plan = stack.plan_deploy() if args.command == "deploy" else stack.plan_destroy()
    plan.render(out)
    if args.dry_run:
        out.write("dry run: nothing was changed\n")
        return
    plan.execute(out)
    if args.command == "deploy":
        stack.report(out)


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, aws: Aws | None = None, env=None
) -> int:
    args = parser().parse_args(argv)
    try:
        run(args, out, aws, env)
    except (DeployError, ConfigError) as exc:
        print(f"setup_aws.py {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
