"""The collector on Elastic Beanstalk: application, a version per bundle, one environment."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from functools import partial
from typing import Any

from botocore.exceptions import ClientError

from deploy.aws import Aws
from deploy.bundles import sha256_hex
from deploy.errors import DeployError
from deploy.names import Names
from deploy.plan import Action
from logdig.aws import error_code

ENV_NAMESPACE = "aws:elasticbeanstalk:application:environment"
PLATFORM_RE = re.compile(r"^64bit Amazon Linux 2023 v(\d+)\.(\d+)\.(\d+) running Python 3\.(\d+)$")
# Launch and update take minutes: poll every 20 s for up to 30 minutes.
WAIT = {"Delay": 20, "MaxAttempts": 90}


def newest_python_platform(stacks: list[str]) -> str:
    """The newest Amazon Linux 2023 platform with the newest Python, from what the region offers."""
    ranked = []
    for stack in stacks:
        match = PLATFORM_RE.match(stack)
        if match:
            major, minor, patch, python = map(int, match.groups())
            ranked.append(((python, major, minor, patch), stack))
    if not ranked:
        raise DeployError("beanstalk platform", "the region offers no Amazon Linux 2023 Python")
    return max(ranked)[1]


class Application:
    def __init__(self, aws: Aws, names: Names):
        self.aws = aws
        self.name = names.application
        self.label = f"beanstalk application {self.name}"

    @property
    def eb(self) -> Any:
        return self.aws.client("elasticbeanstalk")

    def read(self) -> dict | None:
        found = self.eb.describe_applications(ApplicationNames=[self.name])["Applications"]
        return found[0] if found else None

    def diff(self, current: dict | None) -> list[Action]:
        if current is not None:
            return []
        create = partial(
            self.eb.create_application, ApplicationName=self.name, Description="LogDig collector"
        )
        return [Action(self.label, "create", "", create)]

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        return [Action(self.label, "delete", "and its versions' bundles", self._delete)]

    def _delete(self) -> None:
        versions = self.eb.describe_application_versions(ApplicationName=self.name)
        for version in versions["ApplicationVersions"]:
            self.eb.delete_application_version(
                ApplicationName=self.name,
                VersionLabel=version["VersionLabel"],
                DeleteSourceBundle=True,
            )
        self.eb.delete_application(ApplicationName=self.name, TerminateEnvByForce=True)


class Version:
    """One version per distinct bundle: the label carries the bundle's SHA-256."""

    def __init__(self, aws: Aws, names: Names, bundle: bytes):
        self.aws = aws
        self.application = names.application
        self.bundle = bundle
        self.version_label = f"{names.service}-{sha256_hex(bundle)[:16]}"
        self.label = f"beanstalk version {self.version_label}"

    @property
    def eb(self) -> Any:
        return self.aws.client("elasticbeanstalk")

    def read(self) -> dict | None:
        found = self.eb.describe_application_versions(
            ApplicationName=self.application, VersionLabels=[self.version_label]
        )["ApplicationVersions"]
        return found[0] if found else None

    def diff(self, current: dict | None) -> list[Action]:
        if current is not None:
            return []
        detail = f"bundle of {len(self.bundle) // 1024} KiB"
        return [Action(self.label, "upload", detail, self._upload)]

    def remove(self, current: dict | None) -> list[Action]:
        return []  # deleting the application deletes its versions

    def _upload(self) -> None:
        # Beanstalk's own per-account bucket, as the EB CLI uses; created if absent.
        bucket = self.eb.create_storage_location()["S3Bucket"]
        key = f"{self.application}/{self.version_label}.zip"
        self.aws.client("s3").put_object(Bucket=bucket, Key=key, Body=self.bundle)
        self.eb.create_application_version(
            ApplicationName=self.application,
            VersionLabel=self.version_label,
            SourceBundle={"S3Bucket": bucket, "S3Key": key},
            Description="LogDig collector, built by setup_aws.py",
        )


def _covers(have: Any, want: Any) -> bool:
    """Whether `have` holds all of `want` (Beanstalk adds its defaults to JSON documents)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(_covers(have.get(k), v) for k, v in want.items())
    return have == want


def _same_value(have: str | None, want: str) -> bool:
    """Option values compare as text, except JSON documents (the health ConfigDocument), which
    Beanstalk echoes reformatted and with its own defaults added."""
    if have == want or have is None or not want.startswith("{"):
        return have == want
    try:
        return _covers(json.loads(have), json.loads(want))
    except ValueError:
        return False


def instance_profile_not_ready(exc: ClientError) -> bool:
    message = exc.response.get("Error", {}).get("Message", "").lower()
    return error_code(exc) == "InvalidParameterValue" and "instance profile" in message


class Environment:
    def __init__(
        self,
        aws: Aws,
        names: Names,
        version_label: str,
        options: Callable[[], dict[tuple[str, str], str]],
        on_url: Callable[[str], None] = lambda url: None,
    ):
        self.aws = aws
        self.names = names
        self.version_label = version_label
        self.options = options
        self.on_url = on_url
        self.label = f"beanstalk environment {names.environment}"

    @property
    def eb(self) -> Any:
        return self.aws.client("elasticbeanstalk")

    def read(self) -> dict | None:
        found = self.eb.describe_environments(
            ApplicationName=self.names.application,
            EnvironmentNames=[self.names.environment],
            IncludeDeleted=False,
        )["Environments"]
        live = [env for env in found if env["Status"] not in ("Terminated", "Terminating")]
        if not live:
            return None
        env = live[0]
        if env.get("CNAME"):
            self.on_url(f"http://{env['CNAME']}")
        settings = self.eb.describe_configuration_settings(
            ApplicationName=self.names.application, EnvironmentName=self.names.environment
        )["ConfigurationSettings"][0]["OptionSettings"]
        options = {(o["Namespace"], o["OptionName"]): o.get("Value") for o in settings}
        return {"version": env.get("VersionLabel"), "options": options}

    def diff(self, current: dict | None) -> list[Action]:
        if current is None:
            stacks = self.eb.list_available_solution_stacks()["SolutionStacks"]
            platform = newest_python_platform(stacks)
            run = partial(self._create, platform)
            return [Action(self.label, "create", f"{platform}, {self.version_label}", run)]
        changed, stale = self.changed(current["options"])
        new_version = current["version"] != self.version_label
        if not (changed or stale or new_version):
            return []
        parts = [f"deploy {self.version_label}"] if new_version else []
        parts += [name for _, name in sorted(changed)] + [f"remove {name}" for name in stale]
        run = partial(self._update, new_version, changed, stale)
        return [Action(self.label, "update", ", ".join(parts), run)]

    def changed(self, have: dict) -> tuple[dict, list[str]]:
        want = self.options()
        changed = {key: value for key, value in want.items() if not _same_value(have.get(key), value)}
        stale = sorted(
            name
            for namespace, name in have
            if namespace == ENV_NAMESPACE and name.startswith("LOGDIG_") and (namespace, name) not in want
        )
        return changed, stale

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        return [Action(self.label, "delete", "terminate and wait", self._terminate)]

    @staticmethod
    def _settings(options: dict[tuple[str, str], str]) -> list[dict]:
        return [
            {"Namespace": namespace, "OptionName": name, "Value": value}
            for (namespace, name), value in sorted(options.items())
        ]

    def _create(self, platform: str) -> None:
        created = self.aws.until_propagated(
            partial(
                self.eb.create_environment,
                ApplicationName=self.names.application,
                EnvironmentName=self.names.environment,
                SolutionStackName=platform,
                VersionLabel=self.version_label,
                OptionSettings=self._settings(self.options()),
                Description="LogDig collector",
            ),
            instance_profile_not_ready,
        )
        self._wait("environment_exists")
        launched = self._describe() or created
        if launched.get("Health") == "Red":
            raise DeployError(
                self.label,
                "launched but unhealthy (Red); see why with: aws elasticbeanstalk describe-events "
                f"--environment-name {self.names.environment}",
            )
        self.on_url(f"http://{launched.get('CNAME', '')}")

    def _update(self, new_version: bool, changed: dict, stale: list[str]) -> None:
        params: dict[str, Any] = {
            "ApplicationName": self.names.application,
            "EnvironmentName": self.names.environment,
        }
        if new_version:
            params["VersionLabel"] = self.version_label
        if changed:
            params["OptionSettings"] = self._settings(changed)
        if stale:
            params["OptionsToRemove"] = [{"Namespace": ENV_NAMESPACE, "OptionName": name} for name in stale]
        self.eb.update_environment(**params)
        self._wait("environment_updated")

    def _terminate(self) -> None:
        self.eb.terminate_environment(EnvironmentName=self.names.environment)
        self._wait("environment_terminated")

    def _describe(self) -> dict:
        found = self.eb.describe_environments(
            ApplicationName=self.names.application, EnvironmentNames=[self.names.environment]
        )["Environments"]
        return found[0] if found else {}

    def _wait(self, waiter: str) -> None:
        self.eb.get_waiter(waiter).wait(
            ApplicationName=self.names.application,
            EnvironmentNames=[self.names.environment],
            WaiterConfig=WAIT,
        )
