"""`setup_aws.py restore --date YYYY-MM-DD`: bring back the lake objects of one day (dt=) that
were deleted or overwritten, from the versions the bucket keeps (deploy turns versioning on;
noncurrent versions stay --noncurrent-days, 30 by default).

- Deleted (the current version is a delete marker): the delete markers above the newest real
  version are removed, which makes that version current again. Nothing is copied.
- Overwritten: a batcher object is named by the SHA-256 of its bytes, so the right content is
  known. When a key has several versions and the current one does not hash to its name, the
  newest version that does is copied over it. A day's Parquet object is rewritten by every
  compaction on purpose: only its deletion is undone (compaction rebuilds it anyway).
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from functools import partial
from typing import Any

from deploy.errors import DeployError, aws_errors
from deploy.names import Names
from deploy.plan import Action, Plan
from logdig.lake_layout import NDJSON_SUFFIX, day_prefix, parquet_prefix_for


def day_folders(names: Names, dt: str) -> list[str]:
    prefixes = sorted({names.lake_prefix, parquet_prefix_for(names.lake_prefix), names.bad_prefix})
    return [day_prefix(prefix, dt) for prefix in prefixes]


def _history(s3: Any, bucket: str, folder: str) -> dict[str, list[dict]]:
    """key -> its versions and delete markers, newest first."""
    found: dict[str, list[dict]] = defaultdict(list)
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, Prefix=folder):
        for item in page.get("Versions", []):
            found[item["Key"]].append({**item, "marker": False})
        for item in page.get("DeleteMarkers", []):
            found[item["Key"]].append({**item, "marker": True})
    for entries in found.values():
        # S3 lists each kind newest first; the current one (IsLatest) leads. Stable sort.
        entries.sort(key=lambda e: (e.get("IsLatest", False), e["LastModified"]), reverse=True)
    return found


def _content_named(key: str) -> str | None:
    """The SHA-256 a batcher object's name promises (events and bad records), else None."""
    name = key.rsplit("/", 1)[-1]
    digest = name.removesuffix(NDJSON_SUFFIX).removesuffix(".json")
    return digest if digest != name and len(digest) == 64 else None


def _sha256(s3: Any, bucket: str, key: str, version: str) -> str:
    body = s3.get_object(Bucket=bucket, Key=key, VersionId=version)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def _good_version(s3: Any, bucket: str, key: str, versions: list[dict]) -> dict | None:
    """For a content-named key whose newest version is not what its name promises, the newest
    version that is (None when the newest is fine, the name promises nothing, or none is)."""
    digest = _content_named(key)
    if digest is None or _sha256(s3, bucket, key, versions[0]["VersionId"]) == digest:
        return None
    return next((v for v in versions[1:] if _sha256(s3, bucket, key, v["VersionId"]) == digest), None)


def _restore(s3: Any, bucket: str, key: str, entries: list[dict]) -> Action | None:
    """What brings key back, or None when it is as it should be (or cannot be helped)."""
    versions = [e for e in entries if not e["marker"]]
    deleted = entries[0]["marker"]
    if not versions or not (deleted or len(versions) > 1):
        return None
    good = _good_version(s3, bucket, key, versions)
    label = f"s3 object {key}"
    how = "deleted and overwritten" if deleted else "overwritten"
    if good is not None:
        source = {"Bucket": bucket, "Key": key, "VersionId": good["VersionId"]}
        run = partial(s3.copy_object, Bucket=bucket, Key=key, CopySource=source)
        return Action(label, "restore", f"{how}: copy version {good['VersionId']}", run)
    if not deleted:
        return None
    # Markers carry no content: without them all, the newest real version is current again.
    markers = [{"Key": key, "VersionId": e["VersionId"]} for e in entries if e["marker"]]
    run = partial(s3.delete_objects, Bucket=bucket, Delete={"Objects": markers, "Quiet": True})
    return Action(label, "restore", "deleted: remove the delete marker", run)


def plan_restore(s3: Any, names: Names, dt: str) -> Plan:
    """Reads only; raises when the day has nothing to restore (so nothing is changed)."""
    actions = []
    for folder in day_folders(names, dt):
        with aws_errors(f"s3 bucket {names.bucket}"):
            for key, entries in sorted(_history(s3, names.bucket, folder).items()):
                action = _restore(s3, names.bucket, key, entries)
                if action:
                    actions.append(action)
    if not actions:
        folders = ", ".join(f"s3://{names.bucket}/{f}" for f in day_folders(names, dt))
        raise DeployError(
            f"--date {dt}",
            f"nothing to restore: no deleted or overwritten object under {folders} "
            "(or its old versions have expired)",
        )
    return Plan(actions)
