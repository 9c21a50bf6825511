"""Backup beyond versioning: `--replicate-to REGION` copies the lake to a bucket in another region.

The replica gets every new version of the lake's objects (events, Parquet, bad messages) but not
deletions (delete markers are not replicated), so a bad delete in the lake is recoverable from it
even after the lake's noncurrent versions have expired. Objects older than the replication rule
are not copied (S3 Batch Replication does that, by hand, once).
"""

from __future__ import annotations

from functools import cached_property
from typing import Any

from botocore.exceptions import ClientError

from deploy.aws import Aws, absent_as_none, missing
from deploy.errors import DeployError
from deploy.names import Names
from deploy.plan import Action
from deploy.storage import BLOCK_ALL, ENCRYPTION, bucket_removal
from logdig.aws import DEPLOY_CLIENT_CONFIG
from logdig.lake_layout import parquet_prefix_for

RULE_PREFIX = "logdig-replicate-"


def check_region(aws: Aws, names: Names, region: str) -> None:
    """Refuse an unknown region, or the lake's own, before anything is planned."""
    known = aws.session.get_available_regions("s3", partition_name=names.partition)
    if region not in known:
        raise DeployError(f"--replicate-to {region!r}", f"not an S3 region of {names.partition}")
    if region == names.region:
        raise DeployError(f"--replicate-to {region!r}", "is the lake's own region; name another")


def replicated_prefixes(names: Names) -> list[str]:
    return sorted({names.lake_prefix, parquet_prefix_for(names.lake_prefix), names.bad_prefix})


def replication_policy(names: Names, replica: str) -> dict:
    """Read the lake's versions for replication, write them to the replica; nothing else."""
    source, target = names.bucket_arn, f"arn:{names.partition}:s3:::{replica}"
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "ReadReplicationConfig",
                "Effect": "Allow",
                "Action": ["s3:GetReplicationConfiguration", "s3:ListBucket"],
                "Resource": source,
            },
            {
                "Sid": "ReadVersions",
                "Effect": "Allow",
                "Action": [
                    "s3:GetObjectVersionAcl",
                    "s3:GetObjectVersionForReplication",
                    "s3:GetObjectVersionTagging",
                ],
                "Resource": [f"{source}/{prefix}*" for prefix in replicated_prefixes(names)],
            },
            {
                "Sid": "WriteReplica",
                "Effect": "Allow",
                "Action": ["s3:ReplicateObject", "s3:ReplicateTags"],
                "Resource": f"{target}/*",
            },
        ],
    }


def current_replication(s3: Any, bucket: str) -> dict | None:
    """The bucket's replication configuration; None without one (or without the bucket yet)."""
    return absent_as_none(
        lambda: s3.get_bucket_replication(Bucket=bucket)["ReplicationConfiguration"],
        "ReplicationConfigurationNotFoundError",
        "NoSuchBucket",
    )


def replica_region(s3: Any, bucket: str) -> str | None:
    """Where the lake replicates to now (destroy needs it without --replicate-to), or None."""
    config = current_replication(s3, bucket)
    if not config or not config.get("Rules"):
        return None
    replica = config["Rules"][0]["Destination"]["Bucket"].rsplit(":", 1)[-1]
    # us-east-1 answers with no constraint at all.
    return s3.get_bucket_location(Bucket=replica).get("LocationConstraint") or "us-east-1"


class ReplicaBucket:
    """Private, encrypted and versioned (replication needs versioning on both sides)."""

    def __init__(self, aws: Aws, names: Names, region: str, delete_data: bool):
        self.aws = aws
        self.region = region
        self.name = names.replica_bucket(region)
        self.delete_data = delete_data
        self.label = f"s3 bucket {self.name} ({region})"

    @cached_property
    def s3(self) -> Any:
        # Same session (so planning's read-only guard applies), the replica's region.
        return self.aws.session.client("s3", region_name=self.region, config=DEPLOY_CLIENT_CONFIG)

    def read(self) -> dict | None:
        try:
            self.s3.head_bucket(Bucket=self.name)
        except ClientError as exc:
            if missing(exc, "404", "NoSuchBucket", "NotFound"):
                return None
            raise
        return {
            "versioning": self.s3.get_bucket_versioning(Bucket=self.name).get("Status"),
            "public_access": absent_as_none(
                lambda: self.s3.get_public_access_block(Bucket=self.name)["PublicAccessBlockConfiguration"],
                "NoSuchPublicAccessBlockConfiguration",
            ),
        }

    def diff(self, current: dict | None) -> list[Action]:
        actions = []
        if current is None:
            actions.append(Action(self.label, "create", "private, encrypted replica", self._create))
            current = {"versioning": None, "public_access": None}
        if current["versioning"] != "Enabled":
            actions.append(Action(self.label, "update", "versioning", self._version))
        if current["public_access"] != BLOCK_ALL:
            actions.append(Action(self.label, "update", "block all public access, encryption", self._secure))
        return actions

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        return bucket_removal(self.label, self.s3, self.name, self.delete_data, "the replica's")

    def _create(self) -> None:
        params: dict[str, Any] = {"Bucket": self.name}
        if self.region != "us-east-1":
            params["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        self.s3.create_bucket(**params)

    def _version(self) -> None:
        self.s3.put_bucket_versioning(Bucket=self.name, VersioningConfiguration={"Status": "Enabled"})

    def _secure(self) -> None:
        self.s3.put_public_access_block(Bucket=self.name, PublicAccessBlockConfiguration=BLOCK_ALL)
        self.s3.put_bucket_encryption(Bucket=self.name, ServerSideEncryptionConfiguration=ENCRYPTION)


class Replication:
    """The lake's replication configuration: one rule per lake prefix, to the replica."""

    def __init__(self, aws: Aws, names: Names, region: str):
        self.aws = aws
        self.names = names
        self.replica = names.replica_bucket(region)
        self.label = f"s3 replication {names.bucket} -> {self.replica}"

    @property
    def s3(self) -> Any:
        return self.aws.client("s3")

    def configuration(self) -> dict:
        target = f"arn:{self.names.partition}:s3:::{self.replica}"
        rules = [
            {
                "ID": f"{RULE_PREFIX}{prefix.rstrip('/').replace('/', '-')}",
                "Priority": n,
                "Status": "Enabled",
                "Filter": {"Prefix": prefix},
                "DeleteMarkerReplication": {"Status": "Disabled"},  # deletions stay in the lake
                "Destination": {"Bucket": target},
            }
            for n, prefix in enumerate(replicated_prefixes(self.names), start=1)
        ]
        return {"Role": self.names.role_arn(self.names.replication_role), "Rules": rules}

    def read(self) -> dict | None:
        return current_replication(self.s3, self.names.bucket)

    @staticmethod
    def _key(config: dict | None) -> tuple:
        # A rule's ID names its prefix; compared by ID because moto echoes Filter.Prefix back empty.
        rules = (config or {}).get("Rules", [])
        found = sorted((r.get("ID"), r.get("Status"), r["Destination"]["Bucket"]) for r in rules)
        return (config or {}).get("Role"), found

    def diff(self, current: dict | None) -> list[Action]:
        want = self.configuration()
        if self._key(current) == self._key(want):
            return []
        detail = f"new objects under {', '.join(replicated_prefixes(self.names))}; deletions not replicated"
        run = lambda: self.s3.put_bucket_replication(  # noqa: E731
            Bucket=self.names.bucket, ReplicationConfiguration=want
        )
        return [Action(self.label, "create" if current is None else "update", detail, run)]

    def remove(self, current: dict | None) -> list[Action]:
        if current is None:
            return []
        run = lambda: self.s3.delete_bucket_replication(Bucket=self.names.bucket)  # noqa: E731
        return [Action(self.label, "delete", "the lake keeps its data", run)]
