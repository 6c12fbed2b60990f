"""KEDA's ``aws-sqs-queue`` scaler as edgecloud sets it up: the one source of its
numbers for the manifests ``edgecloud infra k8s`` renders and for the simulator's
``keda`` policy, so what is simulated is what is deployed."""

from __future__ import annotations

import math

from edgecloud.config import AutoscalerSettings

# KEDA's defaults, kept explicit in the ScaledObject: how often it reads the queue,
# and how long the queue must stay empty before the Deployment goes to zero.
POLLING_S = 30
COOLDOWN_S = 300


def queue_length(scaler: AutoscalerSettings) -> int:
    """Jobs per replica (the scaler's ``queueLength``): as many as one pod finishes
    within the target latency, at least one."""
    return max(1, math.floor(scaler.target_latency_s / scaler.process_time_s))
