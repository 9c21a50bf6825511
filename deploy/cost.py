"""`setup_aws.py cost`: what a million events cost on the deployed configuration, and what it
costs a month to have it deployed at all, from request counts and bytes and the prices below.

Counts per event are the bench's (bench/collector.py, README "Benchmark"): 8,213 billed SQS
units per million events at 20 events per request (sends, receives and deletes), ~944 bytes per
event as NDJSON, which gzip shrinks about ten-fold in the lake. The configuration (Lambda memory,
schedule, compaction, collector instance type, alarms, replication) is read from AWS, read-only;
what is not deployed is priced at deploy's defaults and said so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, TextIO

from deploy.aws import Aws, absent_as_none
from deploy.names import Names

PRICES_DATE = "2025-06"  # when these list prices were read from aws.amazon.com/pricing
PRICES_REGION = "us-east-1"
PRICE = {
    "sqs_per_million_requests": 0.40,
    "lambda_arm_per_gb_second": 0.0000133334,
    "lambda_per_million_requests": 0.20,
    "s3_put_per_thousand": 0.005,
    "s3_storage_gb_month": 0.023,
    "logs_ingest_per_gb": 0.50,
    "alarm_month": 0.10,
    "dashboard_month": 3.00,
    "custom_metric_month": 0.30,
    "ebs_gp3_gb_month": 0.08,
    "public_ipv4_hour": 0.005,
    "inter_region_per_gb": 0.02,
}
INSTANCE_HOUR = {
    "t3.nano": 0.0052,
    "t3.micro": 0.0104,
    "t3.small": 0.0208,
    "t3.medium": 0.0416,
    "t4g.nano": 0.0042,
    "t4g.micro": 0.0084,
    "t4g.small": 0.0168,
    "t4g.medium": 0.0336,
}
HOURS_PER_MONTH = 730
MILLION = 1_000_000

# Per event and per run, as measured (bench) or assumed (stated in the output).
SQS_UNITS_PER_MILLION = 8_213  # bench/collector.py, 20 events per request, gzip'd bodies
NDJSON_BYTES_PER_EVENT = 944
GZIP_RATIO = 10
EVENTS_PER_REQUEST = 20
REQUEST_LOG_BYTES = 300  # one JSON access-log line per collector request
EMF_LINE_BYTES = 400  # the batcher's metric line, once per run
IDLE_RUN_SECONDS = 0.3  # a run that finds the queue below its threshold: one attribute read
DRAIN_SECONDS_PER_MILLION = 60.0  # receive, gunzip, write: assumed, about 17,000 events/s
COMPACT_SECONDS_PER_DAY = 20.0  # DuckDB over one day's objects, small sites
EBS_GB = 8
BEANSTALK_HEALTH_METRICS = 4


@dataclass
class Deployed:
    drain_memory_mb: int = 256
    runs_per_month: float = 8_640  # rate(5 minutes)
    compaction_memory_mb: int | None = 1024
    instance_type: str | None = "t3.micro"
    alarms: int = 8
    dashboard: bool = True
    replicated: bool = False
    found: bool = False


def runs_per_month(expression: str | None) -> float:
    """Runs a month of an EventBridge rate(); cron() is priced as one run a day."""
    match = re.match(r"rate\((\d+) (minute|hour|day)s?\)", expression or "")
    if not match:
        return 30.0
    minutes = int(match.group(1)) * {"minute": 1, "hour": 60, "day": 1440}[match.group(2)]
    return HOURS_PER_MONTH * 60 / minutes


def read_deployed(aws: Aws, names: Names) -> Deployed:
    """The configuration in the account (reads only); defaults where nothing is deployed."""
    found = Deployed()
    awslambda = aws.client("lambda")
    drain = absent_as_none(
        lambda: awslambda.get_function(FunctionName=names.function), "ResourceNotFoundException"
    )
    if drain is None:
        return found
    found.found = True
    found.drain_memory_mb = drain["Configuration"]["MemorySize"]
    rule = absent_as_none(
        lambda: aws.client("events").describe_rule(Name=names.rule), "ResourceNotFoundException"
    )
    found.runs_per_month = runs_per_month(rule and rule.get("ScheduleExpression"))
    compact = absent_as_none(
        lambda: awslambda.get_function(FunctionName=names.compact_function), "ResourceNotFoundException"
    )
    found.compaction_memory_mb = compact and compact["Configuration"]["MemorySize"]
    found.instance_type = _instance_type(aws, names)
    alarms = aws.client("cloudwatch").describe_alarms(AlarmNamePrefix=names.alarm(""))["MetricAlarms"]
    found.alarms = len(alarms)
    found.dashboard = bool(
        aws.client("cloudwatch").list_dashboards(DashboardNamePrefix=names.dashboard)["DashboardEntries"]
    )
    found.replicated = (
        absent_as_none(
            lambda: aws.client("s3").get_bucket_replication(Bucket=names.bucket),
            "ReplicationConfigurationNotFoundError",
            "NoSuchBucket",
        )
        is not None
    )
    return found


def _instance_type(aws: Aws, names: Names) -> str | None:
    if not names.environment_fits:
        return None
    eb = aws.client("elasticbeanstalk")
    envs = eb.describe_environments(ApplicationName=names.application, EnvironmentNames=[names.environment])
    if not [e for e in envs["Environments"] if e["Status"] not in ("Terminated", "Terminating")]:
        return None
    settings = eb.describe_configuration_settings(
        ApplicationName=names.application, EnvironmentName=names.environment
    )["ConfigurationSettings"][0]["OptionSettings"]
    return next((o["Value"] for o in settings if o["OptionName"] == "InstanceTypes"), "t3.micro").split(",")[
        0
    ]


def _lambda(memory_mb: int, seconds: float, runs: float) -> float:
    gb_seconds = memory_mb / 1024 * seconds
    return (
        gb_seconds * PRICE["lambda_arm_per_gb_second"] + runs * PRICE["lambda_per_million_requests"] / MILLION
    )


def per_million(d: Deployed) -> list[tuple[str, float, str]]:
    """(part, USD per million events, how it is counted)."""
    lake_gb = MILLION * NDJSON_BYTES_PER_EVENT / GZIP_RATIO / 1e9
    requests = MILLION / EVENTS_PER_REQUEST
    rows = [
        (
            "SQS",
            SQS_UNITS_PER_MILLION * PRICE["sqs_per_million_requests"] / MILLION,
            f"{SQS_UNITS_PER_MILLION:,} billed 64 KiB requests (bench)",
        ),
        (
            "Lambda drain",
            _lambda(d.drain_memory_mb, DRAIN_SECONDS_PER_MILLION, 0),
            f"{DRAIN_SECONDS_PER_MILLION:.0f} s at {d.drain_memory_mb} MB arm64",
        ),
        (
            "S3 storage, first month",
            lake_gb * PRICE["s3_storage_gb_month"],
            f"{lake_gb * 1000:.0f} MB gzip NDJSON ({NDJSON_BYTES_PER_EVENT} B/event, {GZIP_RATIO}:1)",
        ),
        (
            "CloudWatch Logs",
            requests * REQUEST_LOG_BYTES / 1e9 * PRICE["logs_ingest_per_gb"] if d.instance_type else 0.0,
            f"{requests:,.0f} collector requests' log lines",
        ),
    ]
    if d.replicated:
        rows.append(
            (
                "Replication",
                lake_gb * (PRICE["inter_region_per_gb"] + PRICE["s3_storage_gb_month"]),
                "transfer and a second copy of the lake",
            )
        )
    return rows


def fixed_monthly(d: Deployed) -> list[tuple[str, float, str]]:
    """(part, USD a month whatever the traffic, how it is counted)."""
    rows = [
        (
            "Lambda drain runs",
            _lambda(d.drain_memory_mb, IDLE_RUN_SECONDS * d.runs_per_month, d.runs_per_month),
            f"{d.runs_per_month:,.0f} runs of ~{IDLE_RUN_SECONDS} s",
        ),
        ("S3 PUTs", d.runs_per_month * PRICE["s3_put_per_thousand"] / 1000, "at most one object per run"),
        (
            "Batcher metric lines",
            d.runs_per_month * EMF_LINE_BYTES / 1e9 * PRICE["logs_ingest_per_gb"],
            "one EMF line per run",
        ),
        ("CloudWatch alarms", d.alarms * PRICE["alarm_month"], f"{d.alarms} standard alarms"),
    ]
    if d.dashboard:
        rows.append(
            ("CloudWatch dashboard", PRICE["dashboard_month"], "free if the account has fewer than 3")
        )
    if d.compaction_memory_mb:
        rows.append(
            (
                "Lambda compaction",
                _lambda(d.compaction_memory_mb, COMPACT_SECONDS_PER_DAY * 30, 30),
                f"30 runs of ~{COMPACT_SECONDS_PER_DAY:.0f} s at {d.compaction_memory_mb} MB",
            )
        )
    if d.instance_type:
        hourly = INSTANCE_HOUR.get(d.instance_type)
        instance = (hourly or 0.0) * HOURS_PER_MONTH
        note = (
            f"{d.instance_type} on demand, ${hourly}/h"
            if hourly
            else f"{d.instance_type}: price not known here"
        )
        rows += [
            ("Beanstalk instance", instance, note),
            (
                "Instance disk and IPv4",
                EBS_GB * PRICE["ebs_gp3_gb_month"] + PRICE["public_ipv4_hour"] * HOURS_PER_MONTH,
                f"{EBS_GB} GB gp3, one public IPv4 address",
            ),
            (
                "Beanstalk health metrics",
                BEANSTALK_HEALTH_METRICS * PRICE["custom_metric_month"],
                f"{BEANSTALK_HEALTH_METRICS} custom metrics",
            ),
        ]
    return rows


def report(d: Deployed, events_per_month: int, out: TextIO) -> None:
    where = "the deployed configuration" if d.found else "deploy's defaults (nothing is deployed here)"
    out.write(f"cost of {where}, {PRICES_REGION} list prices as of {PRICES_DATE} (no free tier)\n\n")
    variable, fixed = per_million(d), fixed_monthly(d)
    out.write("per million events\n")
    for part, usd, how in variable:
        out.write(f"  {part:<26} ${usd:>8.4f}  {how}\n")
    per_m = sum(usd for _, usd, _ in variable)
    out.write(f"  {'total':<26} ${per_m:>8.4f}\n\nfixed, per month\n")
    for part, usd, how in fixed:
        out.write(f"  {part:<26} ${usd:>8.2f}  {how}\n")
    monthly = sum(usd for _, usd, _ in fixed)
    out.write(f"  {'total':<26} ${monthly:>8.2f}\n\n")
    millions = events_per_month / MILLION
    total = monthly + per_m * millions
    out.write(
        f"at {events_per_month:,} events a month: ${total:.2f} a month, "
        f"${total / millions:.2f} per million events all in\n"
    )
    out.write("prices: " + ", ".join(f"{k}={v}" for k, v in PRICE.items()) + "\n")


def cost(aws: Aws, names: Names, events_per_month: int, out: TextIO) -> Any:
    with aws.reads_only():
        deployed = read_deployed(aws, names)
    report(deployed, events_per_month, out)
    return deployed
