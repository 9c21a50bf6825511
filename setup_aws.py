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
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TextIO

from config import ConfigError, load_settings
from deploy import cost, restore
from deploy.alarms import Thresholds
from deploy.aws import Aws
from deploy.errors import DeployError
from deploy.stack import Options, Stack

ROOT = Path(__file__).resolve().parent
DEFAULTS = Options()
SCHEDULE_RE = re.compile(r"^(rate\(\d+ (minute|minutes|hour|hours|day|days)\)|cron\(.+\))$")
EMAIL_RE = re.compile(r"^[^@\s,;<>]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")
# The retentions CloudWatch Logs accepts (PutRetentionPolicy).
LOG_RETENTIONS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


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


def _day(raw: str) -> str:
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a date YYYY-MM-DD") from None


def _email(raw: str) -> str:
    if not EMAIL_RE.match(raw):
        raise argparse.ArgumentTypeError(f"{raw!r} is not an e-mail address such as ops@example.com")
    return raw


def _usd(raw: str) -> Decimal:
    try:
        value = Decimal(raw)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(
            f"{raw!r} is not an amount in US dollars such as 25 or 12.50"
        ) from None
    if not value.is_finite() or value <= 0:
        raise argparse.ArgumentTypeError(f"{raw!r} must be a positive amount in US dollars")
    return value.quantize(Decimal("0.01"))


def _percent(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a number") from None
    if not 0 < value <= 100:
        raise argparse.ArgumentTypeError(f"{raw} is not a percentage above 0 and at most 100")
    return value


def _retention(raw: str) -> int:
    value = _bounded(1, 3653)(raw)
    if value not in LOG_RETENTIONS:
        raise argparse.ArgumentTypeError(
            f"{value} is not a CloudWatch Logs retention; one of {', '.join(map(str, LOG_RETENTIONS))}"
        )
    return value


def _operations(deploy: argparse.ArgumentParser) -> None:
    """Alarms, budget, backup, compaction and collector logs (README: Operations in AWS)."""
    limits = Thresholds()
    ops = deploy.add_argument_group("operations")
    ops.add_argument(
        "--alarm-email", type=_email, metavar="ADDRESS", help="subscribe this address to the alarms"
    )
    ops.add_argument(
        "--oldest-message-minutes",
        type=_bounded(1, 20160),
        default=limits.oldest_message_minutes,
        metavar="N",
        help="alarm when an event has waited this long in the queue (default %(default)s)",
    )
    ops.add_argument(
        "--no-events-hours",
        type=_bounded(1, 24),
        default=limits.no_events_hours,
        metavar="N",
        help="alarm when no event was drained for this long (default %(default)s)",
    )
    ops.add_argument(
        "--collector-5xx-percent",
        type=_percent,
        default=limits.collector_5xx_percent,
        metavar="P",
        help="alarm when more of the collector's answers are 5xx (default %(default)s)",
    )
    ops.add_argument(
        "--monthly-budget", type=_usd, metavar="USD", help="an AWS Budgets budget alerting the topic"
    )
    ops.add_argument(
        "--noncurrent-days",
        type=_bounded(1, 36500),
        default=DEFAULTS.noncurrent_days,
        metavar="DAYS",
        help="keep deleted or overwritten lake objects this long (default %(default)s)",
    )
    ops.add_argument("--replicate-to", metavar="REGION", help="also copy the lake to a bucket in REGION")
    ops.add_argument(
        "--log-retention-days",
        type=_retention,
        default=DEFAULTS.log_retention_days,
        metavar="DAYS",
        help="keep the collector's CloudWatch logs this long (default %(default)s)",
    )
    ops.add_argument("--skip-compaction", action="store_true", help="no daily Parquet compaction Lambda")
    ops.add_argument(
        "--duckdb-wheel",
        type=Path,
        metavar="PATH",
        help="DuckDB's manylinux aarch64 cp313 wheel for the compaction Lambda (default: pip downloads it)",
    )


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
    _operations(deploy)
    destroy = commands.add_parser("destroy", help="remove what deploy created")
    destroy.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    destroy.add_argument("--delete-data", action="store_true", help="also empty and delete the lake bucket")
    restore = commands.add_parser("restore", help="bring back one day's deleted or overwritten lake objects")
    restore.add_argument("--date", required=True, type=_day, metavar="YYYY-MM-DD", help="the lake day (dt=)")
    restore.add_argument("--dry-run", action="store_true", help="print the plan, change nothing")
    cost = commands.add_parser("cost", help="what a million events cost on the deployed configuration")
    cost.add_argument(
        "--events-per-month",
        type=_bounded(1, 10**12),
        default=1_000_000,
        metavar="N",
        help="traffic to spread the fixed monthly cost over (default %(default)s)",
    )
    return top


def options_from(args: argparse.Namespace) -> Options:
    if args.command == "destroy":
        return Options(delete_data=args.delete_data)
    if args.command in ("restore", "cost"):
        return Options()
    return Options(
        skip_collector=args.skip_collector,
        lambda_memory_mb=args.lambda_memory,
        lambda_timeout_seconds=args.lambda_timeout,
        schedule=args.schedule,
        expire_events_days=args.expire_events_days,
        instance_type=args.instance_type,
        alarm_email=args.alarm_email,
        thresholds=Thresholds(args.oldest_message_minutes, args.no_events_hours, args.collector_5xx_percent),
        monthly_budget=args.monthly_budget,
        noncurrent_days=args.noncurrent_days,
        replicate_to=args.replicate_to,
        log_retention_days=args.log_retention_days,
        compaction=not args.skip_compaction,
        duckdb_wheel=args.duckdb_wheel,
    )


def run(args: argparse.Namespace, out: TextIO, aws: Aws | None = None, env=None) -> None:
    env = os.environ if env is None else env
    stack = Stack(aws or Aws(), load_settings(env), env, options_from(args), ROOT)
    if args.command == "cost":
        cost.cost(stack.aws, stack.names, args.events_per_month, out)
        return
    if args.command == "restore":
        with stack.aws.reads_only():
            plan = restore.plan_restore(stack.aws.client("s3"), stack.names, args.date)
    else:
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
