"""The lake bucket: private, encrypted, TLS only, versioned (old versions expire after N days),
with optional expiry of old events."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from deploy.aws import Aws, absent_as_none, missing
from deploy.errors import DeployError
from deploy.names import ATHENA_RESULTS_PREFIX, Names
from deploy.plan import Action, keep

TLS_SID = "DenyInsecureTransport"
BLOCK_ALL = {
    "BlockPublicAcls": True,
    "IgnorePublicAcls": True,
    "BlockPublicPolicy": True,
    "RestrictPublicBuckets": True,
}
ENCRYPTION = {
    "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]
}
EXPIRE_EVENTS_ID = "logdig-expire-events"
EXPIRE_RESULTS_ID = "logdig-expire-athena-results"
ABORT_UPLOADS_ID = "logdig-abort-incomplete-uploads"
NONCURRENT_ID = "logdig-expire-noncurrent-versions"
OUR_RULES = {EXPIRE_EVENTS_ID, EXPIRE_RESULTS_ID, ABORT_UPLOADS_ID, NONCURRENT_ID}
ATHENA_RESULTS_DAYS = 30
NONCURRENT_DAYS = 30  # how long a deleted or overwritten object can be brought back


def _rule_key(rule: dict) -> tuple:
    """What matters in a lifecycle rule, ignoring how S3 echoes empty filters back."""
    prefix = rule.get("Filter", {}).get("Prefix", rule.get("Prefix", ""))
    return (
        rule.get("ID"),
        rule.get("Status"),
        prefix,
        rule.get("Expiration", {}).get("Days"),
        rule.get("AbortIncompleteMultipartUpload", {}).get("DaysAfterInitiation"),
        rule.get("NoncurrentVersionExpiration", {}).get("NoncurrentDays"),
    )


class LakeBucket:
    def __init__(
        self,
        aws: Aws,
        names: Names,
        expire_events_days: int | None,
        delete_data: bool,
        noncurrent_days: int = NONCURRENT_DAYS,
    ):
        self.aws = aws
        self.names = names
        self.expire_events_days = expire_events_days
        self.delete_data = delete_data
        self.noncurrent_days = noncurrent_days
        self.label = f"s3 bucket {names.bucket}"

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    def read(self) -> dict | None:
        bucket = self.names.bucket
        try:
            self.s3.head_bucket(Bucket=bucket)
        except ClientError as exc:
            if missing(exc, "404", "NoSuchBucket", "NotFound"):
                return None
            if missing(exc, "403", "AccessDenied"):
                raise DeployError(
                    self.label,
                    "the name is taken by another account (or access is denied); "
                    "name the bucket with LOGDIG_BUCKET",
                ) from exc
            raise
        return {
            "public_access": absent_as_none(
                lambda: self.s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"],
                "NoSuchPublicAccessBlockConfiguration",
            ),
            "encryption": absent_as_none(
                lambda: self.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"],
                "ServerSideEncryptionConfigurationNotFoundError",
            ),
            "policy": absent_as_none(
                lambda: json.loads(self.s3.get_bucket_policy(Bucket=bucket)["Policy"]),
                "NoSuchBucketPolicy",
            ),
            "rules": absent_as_none(
                lambda: self.s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"],
                "NoSuchLifecycleConfiguration",
            )
            or [],
            "versioning": self.s3.get_bucket_versioning(Bucket=bucket).get("Status"),
        }

    # What the bucket should look like; other statements and rules someone added are kept.
    def tls_statement(self) -> dict:
        arn = self.names.bucket_arn
        return {
            "Sid": TLS_SID,
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [arn, f"{arn}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }

    def policy(self, current: dict | None) -> dict:
        others = [s for s in (current or {}).get("Statement", []) if s.get("Sid") != TLS_SID]
        return {"Version": "2012-10-17", "Statement": [*others, self.tls_statement()]}

    def lifecycle_rules(self, current: list[dict]) -> list[dict]:
        ours = [
            {
                "ID": EXPIRE_RESULTS_ID,
                "Filter": {"Prefix": ATHENA_RESULTS_PREFIX},
                "Status": "Enabled",
                "Expiration": {"Days": ATHENA_RESULTS_DAYS},
            },
            {
                "ID": ABORT_UPLOADS_ID,
                "Filter": {"Prefix": ""},
                "Status": "Enabled",
                "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
            },
            {
                "ID": NONCURRENT_ID,
                "Filter": {"Prefix": ""},
                "Status": "Enabled",
                "NoncurrentVersionExpiration": {"NoncurrentDays": self.noncurrent_days},
            },
        ]
        if self.expire_events_days:
            ours.append(
                {
                    "ID": EXPIRE_EVENTS_ID,
                    "Filter": {"Prefix": self.names.lake_prefix},
                    "Status": "Enabled",
                    "Expiration": {"Days": self.expire_events_days},
                }
            )
        return [r for r in current if r.get("ID") not in OUR_RULES] + ours

    def diff(self, current: dict | None) -> list[Action]:
        if current is None:
            current = {"public_access": None, "encryption": None, "policy": None, "rules": []}
            current["versioning"] = None
            actions = [Action(self.label, "create", "private lake bucket", self._create)]
        else:
            actions = []
        if current["public_access"] != BLOCK_ALL:
            actions.append(Action(self.label, "update", "block all public access", self._block_public))
        encrypted = any(
            rule.get("ApplyServerSideEncryptionByDefault", {}).get("SSEAlgorithm")
            for rule in (current["encryption"] or {}).get("Rules", [])
        )
        if not encrypted:
            actions.append(Action(self.label, "update", "default encryption", self._encrypt))
        policy = self.policy(current["policy"])
        if current["policy"] != policy:
            actions.append(
                Action(self.label, "update", "deny non-TLS access", lambda: self._put_policy(policy))
            )
        if current["versioning"] != "Enabled":
            detail = f"versioning: deleted or overwritten objects kept {self.noncurrent_days} days"
            actions.append(Action(self.label, "update", detail, self._version))
        rules = self.lifecycle_rules(current["rules"])
        if sorted(map(_rule_key, rules)) != sorted(map(_rule_key, current["rules"])):
            detail = "lifecycle: " + ", ".join(rule["ID"] for rule in rules)
            actions.append(Action(self.label, "update", detail, lambda: self._lifecycle(rules)))
        return actions

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        return bucket_removal(self.label, self.s3, self.names.bucket, self.delete_data, "the lake's")

    def _create(self) -> None:
        params: dict[str, Any] = {"Bucket": self.names.bucket}
        if self.names.region != "us-east-1":  # us-east-1 rejects an explicit constraint
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.names.region}
        try:
            self.s3.create_bucket(**params)
        except ClientError as exc:
            if not missing(exc, "BucketAlreadyOwnedByYou"):
                raise

    def _block_public(self) -> None:
        self.s3.put_public_access_block(Bucket=self.names.bucket, PublicAccessBlockConfiguration=BLOCK_ALL)

    def _encrypt(self) -> None:
        self.s3.put_bucket_encryption(Bucket=self.names.bucket, ServerSideEncryptionConfiguration=ENCRYPTION)

    def _put_policy(self, policy: dict) -> None:
        self.s3.put_bucket_policy(Bucket=self.names.bucket, Policy=json.dumps(policy))

    def _version(self) -> None:
        self.s3.put_bucket_versioning(Bucket=self.names.bucket, VersioningConfiguration={"Status": "Enabled"})

    def _lifecycle(self, rules: list[dict]) -> None:
        self.s3.put_bucket_lifecycle_configuration(
            Bucket=self.names.bucket, LifecycleConfiguration={"Rules": rules}
        )


def bucket_removal(label: str, s3: Any, bucket: str, delete_data: bool, whose: str) -> list[Action]:
    """Destroy keeps a bucket of data unless --delete-data: then it is emptied and deleted."""
    if not delete_data:
        return [keep(label, f"{whose} data stays (--delete-data removes it)")]
    return [
        Action(label, "empty", "every object and version", lambda: empty_bucket(s3, bucket)),
        Action(label, "delete", "", lambda: s3.delete_bucket(Bucket=bucket)),
    ]


def empty_bucket(s3: Any, bucket: str, prefix: str = "") -> None:
    """Delete every object version and delete marker under prefix, 1000 per request."""
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=prefix):
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if doomed:
            reply = s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
            if reply.get("Errors"):
                first = reply["Errors"][0]
                raise DeployError(
                    f"s3 bucket {bucket}",
                    f"could not delete {len(reply['Errors'])} object(s), first "
                    f"{first.get('Key')}: {first.get('Code')} {first.get('Message', '')}".rstrip(),
                )
