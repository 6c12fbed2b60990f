"""Helpers for the simulator's tests: run policies on a trace with fixed draws."""

import numpy as np
import pytest

from edgecloud.config import AutoscalerSettings, WorkerSettings
from edgecloud.controller.simulate import build, simulate
from edgecloud.controller.simulate.traces import load_trace, sample


@pytest.fixture
def run():
    """run(trace, policy, boot="60", process="3", **autoscaler) -> Outcome, seeded."""

    def _run(trace, policy="default", boot="60", process="3", seed=0, worker=None, **scaler):
        settings = AutoscalerSettings(**scaler)
        arrivals = load_trace(trace, np.random.default_rng(seed))
        process_s = np.maximum(sample(process, arrivals.size, np.random.default_rng(seed + 1)), 1e-3)
        boot_s = sample(boot, 1024, np.random.default_rng(seed + 2))
        chosen = build(policy, settings, worker or WorkerSettings())
        return simulate(chosen, arrivals, process_s, boot_s, settings, seed=seed + 3)

    return _run
