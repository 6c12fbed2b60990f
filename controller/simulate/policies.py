"""Policies the simulator compares: ``default`` (the real autoscaler and the
real worker retirement rule) and the built-in seeds, each with its own way
of letting workers go.

A policy answers, every tick, how many workers to launch and how many
should leave once the queue has nothing for them: ``drain`` names that many
workers (the seeds' terminate messages; None leaves it to the workers' own
rule), ``ask`` tops a retire queue up to that many asks, which any idle
worker whose rule would act on one takes (the real controller and worker). ``retirement`` is the rule each worker
runs (worker/retirement.py); ``poll_wait_s`` how long one empty poll takes
(SQS long polling; 0 is a short poll).

In the seeds, "running" counts every instance not terminated (pending or
running in EC2 terms): the cap of 19 is on instances, and counting only
booted ones would launch 19 more every tick while the first ones boot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Optional

from edgecloud import keda as keda_setup
from edgecloud.config import AutoscalerSettings, WorkerSettings
from edgecloud.controller.autoscaler import Observation, decide, retire_asks
from edgecloud.retirement import Asked, IdleTimeout, RetirementPolicy, from_settings


@dataclass(frozen=True)
class Action:
    launch: int
    drain: Optional[int] = None  # workers that should leave when idle; None: no request
    ask: Optional[int] = None  # retire asks wanted outstanding on the retire queue; None: send none


@dataclass
class SimPolicy:
    """One policy: a tick function and the rule its workers retire by."""

    name: str
    tick: Callable[[Observation, float], Action]  # (observation, now)
    retirement: RetirementPolicy
    poll_wait_s: float
    notes: str = ""


def default(scaler: AutoscalerSettings, worker: WorkerSettings) -> SimPolicy:
    """controller/scaling.py: launch what ``decide`` says; keep ``retire_asks``
    asks to leave on the retire queue (surplus workers, with no backlog)."""

    def tick(obs: Observation, now: float) -> Action:
        return Action(decide(obs, scaler), ask=retire_asks(obs, scaler))

    return SimPolicy(
        "default",
        tick,
        from_settings(worker),
        float(worker.wait_seconds),
        "controller.autoscaler (asks surplus workers to leave) + edgecloud.retirement",
    )


def default_idle_only(scaler: AutoscalerSettings, worker: WorkerSettings) -> SimPolicy:
    """The real policy with workers leaving only by their idle timeout: what
    ``default`` is when the controller does not ask idle workers to leave."""

    def tick(obs: Observation, now: float) -> Action:
        return Action(decide(obs, scaler))

    return SimPolicy(
        "default-idle-only",
        tick,
        from_settings(worker),
        float(worker.wait_seconds),
        f"controller.autoscaler; workers leave after {worker.idle_timeout:g} s idle only",
    )


def seed_cse546(scaler: AutoscalerSettings, worker: WorkerSettings, cap: int = 19) -> SimPolicy:
    """Every tick launch min(visible - running, cap - running); a worker ends
    as soon as it finds the queue empty (a short poll)."""
    cap = min(cap, scaler.max_workers)

    def tick(obs: Observation, now: float) -> Action:
        running = obs.booting + obs.polling
        return Action(max(0, min(obs.visible - running, cap - running)))

    return SimPolicy("seed-cse546", tick, IdleTimeout(0), 0.0, "one worker per queued clip; quit when empty")


def seed_classifycloud(
    scaler: AutoscalerSettings, worker: WorkerSettings, qos: float = 1.0, factor: float = 1.0, cap: int = 19
) -> SimPolicy:
    """Every tick desired = min(cap, ceil(visible / qos)), at least one worker;
    launch ceil((desired - running) * factor); the excess gets terminate
    messages, which a worker reads when it has no job (outstanding ones are
    replaced each tick, not piled up)."""
    cap = min(cap, scaler.max_workers)

    def tick(obs: Observation, now: float) -> Action:
        running = obs.booting + obs.polling
        desired = max(1, min(cap, math.ceil(obs.visible / qos)))
        launch = math.ceil((desired - running) * factor) if desired > running else 0
        return Action(launch, max(0, running - desired))

    return SimPolicy(
        "seed-classifycloud",
        tick,
        Asked(0),
        float(worker.wait_seconds),
        f"QOS {qos:g} clips per worker, factor {factor:g}, always one worker",
    )


def aws_target_tracking(
    scaler: AutoscalerSettings, worker: WorkerSettings, target: Optional[float] = None, cooldown_s: float = 300.0
) -> SimPolicy:
    """AWS's SQS recipe: backlog per instance tracked against acceptable latency
    / time per job. Scale out at once; scale in after ``cooldown_s`` without
    scaling, terminating idle instances only (busy ones are protected)."""
    state = {"last_change": -math.inf}

    def tick(obs: Observation, now: float) -> Action:
        per_instance = target or max(1.0, scaler.target_latency_s / obs.process_time_s)
        desired = max(scaler.min_workers, min(scaler.max_workers, math.ceil(obs.visible / per_instance)))
        current = obs.booting + obs.polling
        if desired > current:
            state["last_change"] = now
            return Action(desired - current, 0)
        if desired < current and now - state["last_change"] >= cooldown_s:
            state["last_change"] = now
            return Action(0, current - desired)
        return Action(0, 0)

    return SimPolicy(
        "aws-target-tracking",
        tick,
        Asked(0),
        float(worker.wait_seconds),
        f"backlog per instance vs {target or 'target latency / process time'}; scale-in cooldown {cooldown_s:g} s",
    )


def keda(
    scaler: AutoscalerSettings,
    worker: WorkerSettings,
    polling_s: float = keda_setup.POLLING_S,
    cooldown_s: float = keda_setup.COOLDOWN_S,
) -> SimPolicy:
    """KEDA's aws-sqs-queue scaler on a Deployment (infra/k8s/): every ``polling_s``
    replicas = ceil((visible + in flight) / queueLength), queueLength = target
    latency / processing time (at least 1); scale-down takes the highest
    replica count of the last ``cooldown_s`` (the HPA's stabilization; KEDA's
    cooldownPeriod before zero), then ends pods, idle ones first."""
    per_replica = keda_setup.queue_length(scaler)
    state = {"next_poll": 0.0, "history": []}

    def tick(obs: Observation, now: float) -> Action:
        if now < state["next_poll"]:
            return Action(0)
        state["next_poll"] = now + polling_s
        wanted = min(scaler.max_workers, math.ceil((obs.visible + obs.in_flight) / per_replica))
        history = [(t, n) for t, n in state["history"] if now - t < cooldown_s] + [(now, wanted)]
        state["history"] = history
        desired = max(scaler.min_workers, max(n for _, n in history))
        current = obs.booting + obs.polling
        return Action(max(0, desired - current), max(0, current - desired))

    return SimPolicy(
        "keda",
        tick,
        Asked(0),
        float(worker.wait_seconds),
        f"aws-sqs-queue scaler: queueLength {per_replica}, polling {polling_s:g} s, "
        f"cooldown {cooldown_s:g} s, scale to zero",
    )


BUILT_INS = {
    "default": default,
    "seed-cse546": seed_cse546,
    "seed-classifycloud": seed_classifycloud,
    "aws-target-tracking": aws_target_tracking,
    "keda": keda,
}
VARIANTS = {"default-idle-only": default_idle_only}
COMPARED_BY_DEFAULT = tuple(BUILT_INS)


def build(spec: str, scaler: AutoscalerSettings, worker: WorkerSettings) -> SimPolicy:
    """``name`` or ``name:ARG:ARG`` (seed-classifycloud:QOS:FACTOR,
    aws-target-tracking:BACKLOG_PER_INSTANCE, keda:POLLING_S:COOLDOWN_S) to a policy."""
    name, _, rest = spec.strip().partition(":")
    known = {**BUILT_INS, **VARIANTS}
    if name not in known:
        raise ValueError(f"unknown policy {name!r}; choose from {', '.join(known)}")
    try:
        args = [float(a) for a in rest.split(":")] if rest else []
    except ValueError:
        raise ValueError(f"policy {spec!r}: arguments must be numbers") from None
    allowed = {"seed-classifycloud": 2, "aws-target-tracking": 1, "keda": 2}.get(name, 0)
    if len(args) > allowed or any(a <= 0 for a in args):
        raise ValueError(f"policy {spec!r}: takes up to {allowed} positive number(s)")
    policy = known[name](scaler, worker, *args)
    if rest:
        policy.name = spec.strip()
    return policy
