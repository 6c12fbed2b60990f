"""How a worker retires from its fleet, and how it guards a job in hand from its group's scale-in.

``Ec2Retirer``: TerminateInstances on itself. ``AsgRetirer``: leave the
group with TerminateInstanceInAutoScalingGroup (decrementing desired capacity,
so no replacement is launched) and hold scale-in protection while busy.
``Unmanaged``: not on EC2, in a Kubernetes pod, or ``retire: false``: just exit.
"""

from __future__ import annotations

import logging
from typing import Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws
from edgecloud.config import Settings

log = logging.getLogger(__name__)


class Retirer:
    """Base: ``retire()`` ends this instance's life; ``protect(busy)`` may guard it while busy."""

    instance_id: Optional[str] = None

    def retire(self) -> None:
        """Nothing to terminate: the process simply exits."""

    def protect(self, busy: bool) -> None:
        """No scale-in to guard against."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.instance_id or ''}>"


class Unmanaged(Retirer):
    pass


class Ec2Retirer(Retirer):
    def __init__(self, aws: Aws, instance_id: str):
        self.aws = aws
        self.instance_id = instance_id

    def retire(self) -> None:
        log.info("retiring: terminating instance %s", self.instance_id)
        self.aws.ec2.terminate_instances(InstanceIds=[self.instance_id])


class AsgRetirer(Retirer):
    def __init__(self, aws: Aws, instance_id: str, group_name: str):
        self.aws = aws
        self.instance_id = instance_id
        self.group_name = group_name

    def retire(self) -> None:
        log.info("retiring: leaving group %s (instance %s)", self.group_name, self.instance_id)
        self.aws.autoscaling.terminate_instance_in_auto_scaling_group(
            InstanceId=self.instance_id, ShouldDecrementDesiredCapacity=True
        )

    def protect(self, busy: bool) -> None:
        try:
            self.aws.autoscaling.set_instance_protection(
                InstanceIds=[self.instance_id], AutoScalingGroupName=self.group_name, ProtectedFromScaleIn=busy
            )
        except ClientError as err:
            # The job matters more than the guard: work on; the heartbeat still holds the message.
            log.warning("could not set scale-in protection to %s: %s", busy, err)


def for_worker(settings: Settings, aws: Aws, instance_id: Optional[str]) -> Retirer:
    # On Kubernetes the Worker passes no instance id (the node's is not its own), so it is Unmanaged here.
    if not instance_id or not settings.worker.retire:
        return Unmanaged()
    if settings.fleet.backend == "asg" and settings.fleet.asg_name:
        return AsgRetirer(aws, instance_id, settings.fleet.asg_name)
    return Ec2Retirer(aws, instance_id)
