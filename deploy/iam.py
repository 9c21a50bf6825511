"""Least-privilege roles: each names the ARNs it may touch, never `*`."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from deploy.aws import Aws, absent_as_none
from deploy.names import Names
from deploy.plan import Action
from logdig.aws import error_code

VERSION = "2012-10-17"
PROFILE_SETTLE_SECONDS = 15


def trust_policy(service: str) -> dict:
    return {
        "Version": VERSION,
        "Statement": [{"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}],
    }


def drain_policy(names: Names) -> dict:
    """Receive, delete and read attributes of this queue; put lake objects; write its logs.

    ChangeMessageVisibility too: below its threshold the drain receives a sample to learn the
    oldest message's age and hands it straight back (logdig.queues.SqsQueue.release); without
    it the sample would stay hidden for the whole visibility timeout.
    """
    lake_keys = sorted({f"{names.bucket_arn}/{p}*" for p in (names.lake_prefix, names.bad_prefix)})
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "DrainQueue",
                "Effect": "Allow",
                "Action": [
                    "sqs:ChangeMessageVisibility",
                    "sqs:DeleteMessage",
                    "sqs:GetQueueAttributes",
                    "sqs:ReceiveMessage",
                ],
                "Resource": names.queue_arn(names.queue),
            },
            {"Sid": "WriteLake", "Effect": "Allow", "Action": "s3:PutObject", "Resource": lake_keys},
            {
                "Sid": "WriteLogs",
                "Effect": "Allow",
                "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                "Resource": f"{names.log_group_arn}:*",
            },
        ],
    }


def collector_policy(names: Names) -> dict:
    """The collector may only send to the queue."""
    return {
        "Version": VERSION,
        "Statement": [
            {
                "Sid": "SendEvents",
                "Effect": "Allow",
                "Action": "sqs:SendMessage",
                "Resource": names.queue_arn(names.queue),
            }
        ],
    }


class Role:
    """A role with one inline policy, and optionally an instance profile of the same name."""

    def __init__(self, aws: Aws, name: str, service: str, policy: dict, instance_profile: bool = False):
        self.aws = aws
        self.name = name
        self.service = service
        self.policy = policy
        self.instance_profile = instance_profile
        self.label = f"iam role {name}"

    @property
    def iam(self) -> Any:
        return self.aws.client("iam")

    def read(self) -> dict | None:
        role = absent_as_none(lambda: self.iam.get_role(RoleName=self.name)["Role"], "NoSuchEntity")
        if role is None:
            return None
        policy = absent_as_none(
            lambda: self.iam.get_role_policy(RoleName=self.name, PolicyName=self.name), "NoSuchEntity"
        )
        profile = None
        if self.instance_profile:
            profile = absent_as_none(
                lambda: self.iam.get_instance_profile(InstanceProfileName=self.name)["InstanceProfile"],
                "NoSuchEntity",
            )
        return {
            "trust": role["AssumeRolePolicyDocument"],
            "policy": policy and policy["PolicyDocument"],
            "profile_roles": None if profile is None else [r["RoleName"] for r in profile["Roles"]],
            "inline": self.iam.list_role_policies(RoleName=self.name)["PolicyNames"],
            "attached": [
                p["PolicyArn"]
                for p in self.iam.list_attached_role_policies(RoleName=self.name)["AttachedPolicies"]
            ],
        }

    def diff(self, current: dict | None) -> list[Action]:
        actions = []
        if current is None:
            current = {"trust": None, "policy": None, "profile_roles": None}
            actions.append(Action(self.label, "create", f"assumed by {self.service}", self._create))
        elif current["trust"] != trust_policy(self.service):
            actions.append(Action(self.label, "update", f"trust {self.service} only", self._put_trust))
        if current["policy"] != self.policy:
            actions.append(Action(self.label, "update", self._policy_summary(), self._put_policy))
        if self.instance_profile and current["profile_roles"] is None:
            actions.append(Action(f"iam instance profile {self.name}", "create", "", self._create_profile))
        if self.instance_profile and current["profile_roles"] == []:
            actions.append(Action(f"iam instance profile {self.name}", "update", "add role", self._add_role))
        return actions

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        actions = []
        if current["profile_roles"] is not None:
            actions.append(Action(f"iam instance profile {self.name}", "delete", "", self._delete_profile))
        detach = [
            lambda arn=arn: self.iam.detach_role_policy(RoleName=self.name, PolicyArn=arn)
            for arn in current["attached"]
        ]
        drop = [
            lambda name=name: self.iam.delete_role_policy(RoleName=self.name, PolicyName=name)
            for name in current["inline"]
        ]

        def delete() -> None:
            for step in detach + drop:
                step()
            self.iam.delete_role(RoleName=self.name)

        actions.append(Action(self.label, "delete", "and its policies", delete))
        return actions

    def _policy_summary(self) -> str:
        parts = []
        for statement in self.policy["Statement"]:
            acts = statement["Action"]
            acts = ", ".join(acts) if isinstance(acts, list) else acts
            res = statement["Resource"]
            res = ", ".join(res) if isinstance(res, list) else res
            parts.append(f"{acts} on {res}")
        return "allow " + "; ".join(parts)

    def _create(self) -> None:
        self.iam.create_role(
            RoleName=self.name,
            AssumeRolePolicyDocument=json.dumps(trust_policy(self.service)),
            Description="LogDig, created by setup_aws.py",
        )

    def _put_trust(self) -> None:
        self.iam.update_assume_role_policy(
            RoleName=self.name, PolicyDocument=json.dumps(trust_policy(self.service))
        )

    def _put_policy(self) -> None:
        self.iam.put_role_policy(
            RoleName=self.name, PolicyName=self.name, PolicyDocument=json.dumps(self.policy)
        )

    def _create_profile(self) -> None:
        try:
            self.iam.create_instance_profile(InstanceProfileName=self.name)
        except ClientError as exc:
            if error_code(exc) != "EntityAlreadyExists":  # left by a run that stopped halfway
                raise
        self._add_role()
        # EC2, which Beanstalk launches, sees a new profile seconds after IAM does; launching at
        # once fails the environment later, out of reach of any retry of the API call.
        self.aws.sleep(PROFILE_SETTLE_SECONDS)

    def _add_role(self) -> None:
        self.iam.add_role_to_instance_profile(InstanceProfileName=self.name, RoleName=self.name)

    def _delete_profile(self) -> None:
        profile = self.iam.get_instance_profile(InstanceProfileName=self.name)["InstanceProfile"]
        for role in profile["Roles"]:
            self.iam.remove_role_from_instance_profile(
                InstanceProfileName=self.name, RoleName=role["RoleName"]
            )
        self.iam.delete_instance_profile(InstanceProfileName=self.name)
