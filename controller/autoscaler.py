"""The scaling policy: a pure function from what the controller can observe to
how many workers to launch now. No AWS, no clock: the loop that applies it
(controller/scaling.py) and the simulator (controller/simulate/) both call it.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from edgecloud.config import AutoscalerSettings


@dataclass(frozen=True)
class Observation:
    visible: int  # jobs waiting in the queue (approximate, as SQS reports)
    in_flight: int  # jobs a worker has received and not yet deleted
    pending: int  # workers launched and still booting
    running: int  # workers up and polling
    retiring: int = 0  # workers shutting down; they take no new job
    process_time_s: float = 3.0  # recent seconds per clip on one worker
    boot_time_s: float = 60.0  # recent seconds from launch to first poll

    @property
    def workers(self) -> int:
        return self.pending + self.running


def decide(obs: Observation, settings: AutoscalerSettings) -> int:
    """Workers to launch now (>= 0). Never exceeds max_workers counting booting ones.

    Aim: the backlog drains within target_latency_s. A worker launched now is
    useful only after boot_time_s, so it gets (target - boot) seconds of work.
    """
    backlog = obs.visible + obs.in_flight
    useful_s = max(settings.target_latency_s - obs.boot_time_s, obs.process_time_s)
    per_worker = max(1.0, useful_s / obs.process_time_s)
    desired = math.ceil(backlog / per_worker) if backlog else 0
    desired = max(settings.min_workers, min(settings.max_workers, desired))
    return max(0, desired - obs.workers)
