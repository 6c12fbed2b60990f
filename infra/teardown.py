"""Teardown: what must be gone before CloudFormation can delete the stack.

A bucket with objects in it, and workers that still hold the stack's security
group, make a stack delete fail; ``edgecloud infra down`` empties and
terminates them first.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, error_code
from edgecloud.fleet_query import fleet_instances

from .params import InfraError


# ------------------------------------------------------------------- buckets
def bucket_object_count(aws: Aws, bucket: str) -> int:
    """Objects, versions and delete markers in the bucket (0 if it is gone)."""
    count = 0
    try:
        for page in aws.s3.get_paginator("list_object_versions").paginate(Bucket=bucket):
            count += len(page.get("Versions", [])) + len(page.get("DeleteMarkers", []))
    except ClientError as err:
        if error_code(err) == "NoSuchBucket":
            return 0
        raise
    return count


def empty_bucket(aws: Aws, bucket: str) -> int:
    """Delete every object version and delete marker; returns how many went."""
    deleted = 0
    s3 = aws.s3
    try:
        pages = list(s3.get_paginator("list_object_versions").paginate(Bucket=bucket))
    except ClientError as err:
        if error_code(err) == "NoSuchBucket":
            return 0
        raise
    keys = [
        {"Key": v["Key"], "VersionId": v["VersionId"]}
        for page in pages
        for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
    ]
    for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1000 keys
        batch = keys[start : start + 1000]
        reply = s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        if reply.get("Errors"):
            first = reply["Errors"][0]
            raise InfraError(f"could not empty {bucket}: {first.get('Key')}: {first.get('Message')}")
        deleted += len(batch)
    return deleted


# ------------------------------------------------------------------- workers
LIVE_STATES = ["pending", "running", "stopping", "stopped"]


def fleet_worker_ids(aws: Aws, fleet_name: str) -> list[str]:
    """Ids of this fleet's workers that are not terminated (they hold the stack's security group)."""
    return sorted(fleet_instances(aws, fleet_name, LIVE_STATES))


def terminate_fleet(aws: Aws, instance_ids: list[str], timeout: float = 900) -> None:
    """Terminate the workers and wait until they are gone, so their security group can be deleted."""
    if not instance_ids:
        return
    aws.ec2.terminate_instances(InstanceIds=instance_ids)
    aws.ec2.get_waiter("instance_terminated").wait(
        InstanceIds=instance_ids, WaiterConfig={"Delay": 5, "MaxAttempts": max(1, int(timeout // 5))}
    )
