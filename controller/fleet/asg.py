"""Workers as members of an EC2 Auto Scaling group: the controller raises desired
capacity; each worker leaves with TerminateInstanceInAutoScalingGroup
(ShouldDecrementDesiredCapacity=True), protected from scale-in while busy."""

from __future__ import annotations

import logging

from edgecloud.aws import Aws
from edgecloud.config import ConfigError, Settings

from .base import Fleet

log = logging.getLogger(__name__)

PENDING = {
    "Pending",
    "Pending:Wait",
    "Pending:Proceed",
    "Warmed:Pending",
    "Warmed:Pending:Wait",
    "Warmed:Pending:Proceed",
}
RUNNING = {"InService"}


class AsgFleet(Fleet):
    """Desired capacity of one Auto Scaling group; the group launches the instances."""

    backend = "asg"

    def __init__(self, settings: Settings, aws: Aws):
        super().__init__(settings, aws)
        if not settings.fleet.asg_name:
            raise ConfigError("fleet.backend asg needs fleet.asg_name")
        self.group_name = settings.fleet.asg_name
        self.launched_total = 0

    def _group(self) -> dict:
        groups = self.aws.autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[self.group_name])[
            "AutoScalingGroups"
        ]
        if not groups:
            raise RuntimeError(f"Auto Scaling group {self.group_name!r} not found")
        return groups[0]

    @staticmethod
    def _states(group: dict) -> dict[str, int]:
        counts = {"pending": 0, "running": 0}
        for instance in group.get("Instances", []):
            state = instance["LifecycleState"]
            if state in PENDING:
                counts["pending"] += 1
            elif state in RUNNING:
                counts["running"] += 1
        # Capacity asked for but not yet an instance is on its way: count it as pending.
        counts["pending"] += max(0, group["DesiredCapacity"] - counts["pending"] - counts["running"])
        return counts

    def states(self) -> dict[str, int]:
        return self._states(self._group())

    def ids(self) -> list[str]:
        return sorted(
            i["InstanceId"] for i in self._group().get("Instances", []) if i["LifecycleState"] in PENDING | RUNNING
        )

    def launch(self, n: int) -> list[str]:
        if n <= 0:
            return []
        group = self._group()
        before = {i["InstanceId"] for i in group.get("Instances", [])}
        current = sum(self._states(group).values())
        desired = min(group["MaxSize"], current + n)
        if desired <= group["DesiredCapacity"]:
            log.info(
                "group %s already at %d (max %d); not raising",
                self.group_name,
                group["DesiredCapacity"],
                group["MaxSize"],
            )
            return []
        self.aws.autoscaling.set_desired_capacity(
            AutoScalingGroupName=self.group_name, DesiredCapacity=desired, HonorCooldown=False
        )
        self.launched_total += desired - group["DesiredCapacity"]
        # AWS launches asynchronously (ids appear later); an embedded endpoint may have them at once.
        after = {i["InstanceId"] for i in self._group().get("Instances", [])}
        log.info("group %s desired %d -> %d", self.group_name, group["DesiredCapacity"], desired)
        return sorted(after - before)
