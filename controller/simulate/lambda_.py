"""The ``lambda`` policy: the jobs queue feeding a Lambda function, on the same
trace and processing times as the EC2 policies, with its own price.

What is modelled (AWS's documented behaviour for an SQS event source):

* each clip is one invocation (batch size 1), started first in, first out;
* concurrency ramps: the event source starts with ``INITIAL_CONCURRENCY``
  concurrent invocations and, while messages wait, adds up to
  ``RAMP_PER_MINUTE`` more per minute, never over the maximum concurrency
  (``autoscaler.max_workers``); with no backlog it falls back to what is busy;
* an invocation finds a warm execution environment if one has been idle for
  less than ``KEEP_WARM_S``, else it is a cold start that first spends
  ``cold_start_s`` (by default measured: the handler's import and model load);
* billing: every millisecond of each invocation, init included (AWS bills the
  INIT phase), times the memory in GB, plus a price per request.
"""

from __future__ import annotations

import heapq
import math
import os
import subprocess
import sys
from bisect import bisect_right
from dataclasses import dataclass

import numpy as np

from .outcome import Outcome

INITIAL_CONCURRENCY = 5
RAMP_PER_MINUTE = 300
KEEP_WARM_S = 600.0  # Lambda reclaims idle environments after minutes; AWS promises no figure
PRICE_PER_GB_S = 0.0000166667  # x86, us-east-1, first 6 billion GB-s a month
PRICE_PER_REQUEST = 0.20 / 1_000_000


@dataclass(frozen=True)
class LambdaModel:
    cold_start_s: float
    memory_mb: int = 2048
    max_concurrency: int = 19


def measure_cold_start(detector: str = "hog") -> float:
    """Seconds a fresh interpreter takes to import what the handler imports and load its model."""
    code = (
        "import time; began = time.perf_counter()\n"
        "import edgecloud.pipeline, edgecloud.aws\n"
        "from edgecloud.config import load; from edgecloud.detect import create_detector\n"
        "create_detector(load().detector); print(time.perf_counter() - began)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("EDGECLOUD_")}
    env["EDGECLOUD_DETECTOR__NAME"] = detector
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def simulate_lambda(model: LambdaModel, submitted: np.ndarray, process_s: np.ndarray) -> Outcome:
    """Run the trace through the function; ``worker_seconds`` holds each invocation's billed seconds."""
    arr, proc = submitted.tolist(), process_s.tolist()
    n = len(arr)
    cap = max(1, model.max_concurrency)
    floor = min(cap, INITIAL_CONCURRENCY)
    ramp_per_s = RAMP_PER_MINUTE / 60.0
    finished = np.full(n, math.nan)
    billed = np.zeros(n)
    busy: list[float] = []  # finish time of each running invocation (a heap)
    idle: list[float] = []  # when each warm environment went idle, oldest first
    level, backlog_since, level0 = floor, None, floor
    cold_starts = 0
    timeline: dict[str, list] = {"t": [], "visible": [], "in_flight": [], "workers": []}

    def allowed(t: float) -> int:
        if backlog_since is None:
            return level
        return min(cap, level0 + math.floor((t - backlog_since) * ramp_per_s + 1e-9))

    for i in range(n):
        t = arr[i]
        while True:
            while busy and busy[0] <= t:
                idle.append(heapq.heappop(busy))
            if len(busy) < allowed(t):
                break
            if backlog_since is None:  # a message waits: the event source starts adding concurrency
                backlog_since, level0 = t, level
            now_allowed = allowed(t)
            next_ramp = backlog_since + (now_allowed - level0 + 1) / ramp_per_s if now_allowed < cap else math.inf
            t = max(t, min(busy[0], next_ramp + 1e-9))
        idle.sort()
        while idle and t - idle[0] > KEEP_WARM_S:  # reclaimed while idle
            idle.pop(0)
        cold = not idle
        if cold:
            cold_starts += 1
        else:
            idle.pop()  # the most recently used environment
        duration = (model.cold_start_s if cold else 0.0) + proc[i]
        heapq.heappush(busy, t + duration)
        for key, value in (
            ("t", t),
            ("visible", bisect_right(arr, t, i) - i - 1),
            ("in_flight", len(busy)),
            ("workers", len(busy) + len(idle)),
        ):  # workers: execution environments
            timeline[key].append(value)
        finished[i] = t + duration
        billed[i] = math.ceil(duration * 1000) / 1000
        if i + 1 < n and arr[i + 1] <= t:
            continue  # still a backlog: the ramp goes on
        if backlog_since is not None:
            level = allowed(t)
        level, backlog_since = max(floor, min(level, len(busy))), None
    outcome = Outcome(
        policy="lambda",
        submitted=submitted,
        finished=finished,
        worker_seconds=billed,
        launches=cold_starts,
        timeline={k: np.asarray(v) for k, v in timeline.items()},
    )
    outcome.cost_usd = function_cost(billed.sum(), n, model.memory_mb)
    return outcome


def function_cost(billed_s: float, requests: int, memory_mb: int) -> float:
    """USD for that many billed seconds at that memory, plus the requests."""
    return billed_s * memory_mb / 1024 * PRICE_PER_GB_S + requests * PRICE_PER_REQUEST
