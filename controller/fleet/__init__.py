"""Fleet backends behind one interface: ``local`` (worker processes registered in
the embedded EC2), ``ec2`` (RunInstances), ``asg`` (an Auto Scaling group) and ``lambda`` (a function the
jobs queue feeds: nothing to launch)."""

from __future__ import annotations

from edgecloud.aws import Aws
from edgecloud.config import Settings

from .base import LIVE_STATES, ROLE_WORKER, TAG_FLEET, TAG_ROLE, Fleet, describe_workers


def create_fleet(settings: Settings, aws: Aws) -> Fleet:
    """The backend named by ``settings.fleet.backend``."""
    backend = settings.fleet.backend
    if backend == "local":
        from .local import LocalFleet as cls
    elif backend == "ec2":
        from .ec2 import Ec2Fleet as cls
    elif backend == "asg":
        from .asg import AsgFleet as cls
    elif backend == "lambda":
        from .lambda_ import LambdaFleet as cls
    else:  # the settings schema already refuses other names
        raise ValueError(f"unknown fleet backend {backend!r}")
    return cls(settings, aws)


__all__ = ["Fleet", "create_fleet", "describe_workers", "TAG_FLEET", "TAG_ROLE", "ROLE_WORKER", "LIVE_STATES"]
