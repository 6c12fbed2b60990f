"""What every fleet backend offers the scaling loop, and the EC2 tag lookup they share."""

from __future__ import annotations

import abc

from edgecloud.aws import Aws
from edgecloud.config import Settings
from edgecloud.fleet_query import ROLE_WORKER, TAG_FLEET, TAG_ROLE, fleet_instances

LIVE_STATES = ("pending", "running")


def worker_tags(fleet_name: str) -> list[dict[str, str]]:
    return [
        {"Key": TAG_FLEET, "Value": fleet_name},
        {"Key": TAG_ROLE, "Value": ROLE_WORKER},
        {"Key": "Name", "Value": f"{fleet_name}-worker"},
    ]


def tag_specifications(fleet_name: str, resources=("instance", "volume")) -> list[dict]:
    return [{"ResourceType": r, "Tags": worker_tags(fleet_name)} for r in resources]


def describe_workers(aws: Aws, fleet_name: str) -> dict[str, str]:
    """Instance id -> state of this fleet's live (pending/running) workers, from EC2."""
    return fleet_instances(aws, fleet_name, LIVE_STATES)


class Fleet(abc.ABC):
    """A set of workers the controller can grow. Workers shrink it themselves by retiring.

    Backends must implement ``states`` and ``launch``; ``close`` is for backends
    that own local resources (the local backend's child processes).
    """

    backend = "abstract"

    def __init__(self, settings: Settings, aws: Aws):
        self.settings = settings
        self.aws = aws
        self.name = settings.fleet.name

    @abc.abstractmethod
    def states(self) -> dict[str, int]:
        """Live workers by state: {"pending": n, "running": n}."""

    @abc.abstractmethod
    def launch(self, n: int) -> list[str]:
        """Start ``n`` more workers; the instance ids known at once (may be fewer than n)."""

    @abc.abstractmethod
    def ids(self) -> list[str]:
        """Instance ids of live workers."""

    def count(self) -> int:
        """Pending + running workers: what the autoscaler must count so it does not over-launch."""
        s = self.states()
        return s["pending"] + s["running"]

    def close(self) -> None:
        """Release what this object holds; workers on EC2 keep running and retire on their own."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} fleet={self.name!r}>"
