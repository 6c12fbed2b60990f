"""Workers as EC2 instances launched one RunInstances call at a time.

Each instance boots the worker AMI; its config arrives as cloud-init user-data
(written to ``fleet.worker_config_path``), instance metadata needs IMDSv2
tokens, and tags mark it as ours so counting is one filtered DescribeInstances.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import yaml
from botocore.exceptions import ClientError

from edgecloud.aws import Aws
from edgecloud.config import ConfigError, Settings, dump

from .base import Fleet, describe_workers, tag_specifications

log = logging.getLogger(__name__)

# Spot refusals worth retrying as on-demand at once.
SPOT_FALLBACK_ERRORS = {
    "InsufficientInstanceCapacity",
    "SpotMaxPriceTooLow",
    "MaxSpotInstanceCountExceeded",
    "InsufficientCapacity",
    "UnfulfillableCapacity",
    "InsufficientFreeAddressesInSubnet",
}


def worker_user_data(settings: Settings) -> str:
    """cloud-init user-data that writes the worker's config; the AMI's unit starts the worker with it."""
    worker_settings = settings.model_copy(deep=True)
    worker_settings.worker.instance_id = None  # each instance asks IMDSv2 for its own
    path = settings.fleet.worker_config_path
    doc = {
        "write_files": [{"path": path, "permissions": "0644", "owner": "root:root", "content": dump(worker_settings)}],
        "runcmd": [["systemctl", "restart", settings.fleet.worker_unit]],
    }
    return "#cloud-config\n" + yaml.safe_dump(doc, sort_keys=False)


class Ec2Fleet(Fleet):
    """RunInstances from a launch template or from AMI + type; optional spot with on-demand fallback."""

    backend = "ec2"

    def __init__(self, settings: Settings, aws: Aws):
        super().__init__(settings, aws)
        f = settings.fleet
        if not f.launch_template and not f.ami_id:
            raise ConfigError("fleet.backend ec2 needs fleet.launch_template or fleet.ami_id")
        self._subnets = itertools.cycle(f.subnet_ids) if f.subnet_ids else None
        self.launched_total = 0

    def request(self, n: int, *, spot: bool) -> dict[str, Any]:
        """The RunInstances parameters for ``n`` workers (all or none: a shortfall retries next interval)."""
        f = self.settings.fleet
        params: dict[str, Any] = {
            "MinCount": n,
            "MaxCount": n,
            "UserData": worker_user_data(self.settings),
            "TagSpecifications": tag_specifications(self.name),
            # IMDSv2 only: a stolen-URL request (SSRF) cannot read the instance's credentials.
            "MetadataOptions": {"HttpTokens": "required", "HttpEndpoint": "enabled", "HttpPutResponseHopLimit": 1},
        }
        if f.launch_template:
            params["LaunchTemplate"] = {"LaunchTemplateName": f.launch_template, "Version": f.launch_template_version}
        if f.ami_id:
            params["ImageId"] = f.ami_id
        if f.instance_type and (f.ami_id or not f.launch_template):
            params["InstanceType"] = f.instance_type
        if self._subnets:
            params["SubnetId"] = next(self._subnets)
        if f.security_group_ids:
            params["SecurityGroupIds"] = list(f.security_group_ids)
        if f.instance_profile:
            params["IamInstanceProfile"] = {"Name": f.instance_profile}
        if spot:
            params["InstanceMarketOptions"] = {
                "MarketType": "spot",
                "SpotOptions": {"SpotInstanceType": "one-time", "InstanceInterruptionBehavior": "terminate"},
            }
        return params

    def launch(self, n: int) -> list[str]:
        if n <= 0:
            return []
        try:
            reply = self.aws.ec2.run_instances(**self.request(n, spot=self.settings.fleet.spot))
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if not (self.settings.fleet.spot and code in SPOT_FALLBACK_ERRORS):
                raise
            log.warning("spot refused (%s); launching %d on-demand", code, n)
            reply = self.aws.ec2.run_instances(**self.request(n, spot=False))
        ids = [i["InstanceId"] for i in reply["Instances"]]
        self.launched_total += len(ids)
        log.info("launched %d/%d workers: %s", len(ids), n, ", ".join(ids))
        return ids

    def states(self) -> dict[str, int]:
        counts = {"pending": 0, "running": 0}
        for state in describe_workers(self.aws, self.name).values():
            counts[state] += 1
        return counts

    def ids(self) -> list[str]:
        return sorted(describe_workers(self.aws, self.name))
