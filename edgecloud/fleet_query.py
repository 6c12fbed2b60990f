"""What EC2 says about our fleet's workers: found by the tags they are launched with."""

from __future__ import annotations

from typing import Any

from .aws import Aws

# Tags that mark our fleet's instances (set at launch, read by the fleet, teardown and the demo).
TAG_FLEET = "edgecloud:fleet"
TAG_ROLE = "edgecloud:role"
ROLE_WORKER = "worker"


def fleet_instances(aws: Aws, fleet_name: str, states=None) -> dict[str, str]:
    """Instance id -> EC2 state of this fleet's workers, optionally only those in ``states``."""
    return {i["InstanceId"]: i["State"]["Name"] for i in describe_fleet(aws, fleet_name, states)}


def describe_fleet(aws: Aws, fleet_name: str, states=None) -> list[dict]:
    """EC2's description of each of this fleet's workers (state, launch time, ...)."""
    filters = [
        {"Name": f"tag:{TAG_FLEET}", "Values": [fleet_name]},
        {"Name": f"tag:{TAG_ROLE}", "Values": [ROLE_WORKER]},
    ]
    if states:
        filters.append({"Name": "instance-state-name", "Values": list(states)})
    return [
        instance
        for page in aws.ec2.get_paginator("describe_instances").paginate(Filters=filters)
        for reservation in page["Reservations"]
        for instance in reservation["Instances"]
    ]


def launch_times(aws: Aws, instance_ids: list[str]) -> dict[str, Any]:
    """Instance id -> when EC2 launched it (timezone-aware), for those it still knows."""
    found: dict[str, Any] = {}
    if not instance_ids:
        return found
    for page in aws.ec2.get_paginator("describe_instances").paginate(InstanceIds=list(instance_ids)):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                found[instance["InstanceId"]] = instance["LaunchTime"]
    return found
