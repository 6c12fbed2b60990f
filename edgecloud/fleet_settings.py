"""The ``worker:``, ``fleet:``, ``function:`` and ``autoscaler:`` settings sections: the cloud's workers,
what one does, how they are launched (instances or a Lambda function), and how many the autoscaler keeps.

``edgecloud.settings`` gathers every section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field, model_validator

from .sections import Section


class WorkerSettings(Section):
    instance_id: Optional[str] = Field(None, description="This worker's EC2 instance id; null asks IMDSv2 (on EC2).")
    wait_seconds: int = Field(20, ge=0, le=20, description="SQS long-poll wait.")
    idle_timeout: float = Field(
        300,
        gt=0,
        description="Seconds with nothing in hand before the worker retires: a safety net, at least "
        "autoscaler.rate_window_s, so it never ends a worker the autoscaler still wants; scale-in is the "
        "controller asking idle workers to leave (queues.retire).",
    )
    heartbeat_seconds: float = Field(30, gt=0, description="How often visibility is extended while working.")
    retire: bool = Field(True, description="Terminate this instance when idle (false: just exit).")
    platform: Literal["auto", "ec2", "kubernetes"] = Field(
        "auto",
        description="Where the worker runs. ec2: its instance id from IMDSv2, and it retires by "
        "terminating that instance (off EC2, by exiting). kubernetes: never asks IMDS nor terminates anything (a "
        "pod's node is not its to end) and never leaves when idle: KEDA scales the Deployment and SIGTERM stops "
        "a pod. auto: kubernetes inside a pod (KUBERNETES_SERVICE_HOST set), else ec2.",
    )


class FleetSettings(Section):
    backend: Literal["local", "ec2", "asg", "lambda"] = Field(
        "local", description="How workers are launched (lambda: none; the jobs queue feeds a function)."
    )
    name: str = Field("edgecloud", description="Value of the edgecloud:fleet tag marking our workers.")
    ami_id: Optional[str] = Field(None, description="Worker AMI (ec2 backend without a launch template).")
    instance_type: str = Field("c6i.large", description="Worker instance type (ec2 backend).")
    launch_template: Optional[str] = Field(None, description="Launch template name (ec2 backend).")
    subnet_ids: list[str] = Field(default_factory=list, description="Subnets to launch into (ec2 backend).")
    security_group_ids: list[str] = Field(default_factory=list, description="Security groups (ec2 backend).")
    instance_profile: Optional[str] = Field(None, description="IAM instance profile name (ec2 backend).")
    spot: bool = Field(False, description="Ask for spot capacity first, fall back to on-demand.")
    asg_name: Optional[str] = Field(None, description="Auto Scaling group (asg backend).")
    launch_template_version: str = Field(
        "$Default", description="Launch template version: a number, $Default or $Latest (ec2 backend)."
    )
    worker_config_path: str = Field(
        "/etc/edgecloud/config.yaml", description="Where user-data writes the worker's config on the instance."
    )
    worker_unit: str = Field("edgecloud-worker.service", description="systemd unit user-data restarts on boot.")
    scaling: Literal["loop", "target-tracking"] = Field(
        "loop",
        description="loop: the leading controller's autoscaler launches workers; target-tracking (asg "
        "backend): the Auto Scaling group's target-tracking policy on the published BacklogPerWorker metric "
        "does, and the controller only publishes metrics.",
    )

    @model_validator(mode="after")
    def _target_tracking_needs_a_group(self):
        if self.scaling == "target-tracking" and self.backend != "asg":
            raise ValueError(
                f"fleet.scaling target-tracking is a policy of an Auto Scaling group: it needs "
                f"fleet.backend asg, not {self.backend}"
            )
        return self


class FunctionSettings(Section):
    """The Lambda function: the worker as a function (fleet.backend: lambda) and the frame handler."""

    name: str = Field("edgecloud-worker", pattern=r"^[A-Za-z0-9_-]{1,64}$", description="Function name.")
    memory_mb: int = Field(2048, ge=128, le=10240, description="Function memory (CPU grows with it).")
    timeout_s: int = Field(60, ge=1, le=900, description="Longest invocation (<= queues.visibility_timeout).")
    batch_size: int = Field(1, ge=1, le=10, description="Jobs per invocation from the jobs queue.")
    package: Path = Field(
        Path("var/lambda/edgecloud-lambda-local.zip"),
        description="Zip the local emulation runs (for this machine's Python; the demo rebuilds it when stale).",
    )
    image_uri: Optional[str] = Field(None, description="Container image (torch models, faces) instead of the zip.")


class AutoscalerSettings(Section):
    interval: float = Field(5, gt=0, description="Seconds between scaling decisions.")
    min_workers: int = Field(0, ge=0, description="Workers kept even when the queue is empty.")
    max_workers: int = Field(19, ge=0, description="Hard cap on pending + running workers.")
    target_latency_s: float = Field(60, gt=0, description="Latency a clip should finish within.")
    boot_time_s: float = Field(60, ge=0, description="Typical time from launch to first poll.")
    process_time_s: float = Field(3, gt=0, description="Initial guess of seconds per clip, refined as results arrive.")
    utilization: float = Field(
        0.8,
        gt=0,
        le=1,
        description="Busy fraction a small fleet aims at under steady load (lower: faster, dearer); "
        "large fleets run busier (load + 1.5 sqrt(load) workers).",
    )
    rate_window_s: float = Field(300, gt=0, description="Seconds of submissions averaged into the arrival rate.")
