"""The simulator: conservation, billing, the seeds as specified, the cap, and the verdict."""

import numpy as np
import pytest

from edgecloud.controller.simulate.billing import billed_seconds, cost
from edgecloud.controller.simulate.policies import BUILT_INS
from edgecloud.controller.simulate.report import summarise

POLICIES = [*BUILT_INS, "default-idle-only"]


@pytest.mark.parametrize("policy", POLICIES)
@pytest.mark.parametrize("trace", ["burst:40", "poisson:0.3:900", "diurnal:0.5:2"])
def test_every_clip_completes_after_its_processing_time(run, policy, trace):
    out = run(trace, policy, boot="normal:60:10", process="lognormal:3:0.5")
    assert not np.isnan(out.finished).any()
    assert (out.latencies >= 0).all()
    assert (out.worker_seconds >= 60).all()
    assert out.launches == out.worker_seconds.size


@pytest.mark.parametrize("policy", POLICIES)
def test_fleet_never_exceeds_max_workers(run, policy):
    out = run("poisson:2:600", policy, max_workers=7)
    assert out.timeline["workers"].max() <= 7


def test_billing_is_per_second_with_a_60_second_minimum():
    assert billed_seconds(np.array([0.0, 0.0, 5.0]), np.array([10.0, 90.5, 125.0])).tolist() == [60.0, 90.5, 120.0]
    assert cost(3600, 0.085) == pytest.approx(0.085)


def test_a_short_lived_worker_is_billed_the_minimum(run):
    out = run("burst:1", "seed-cse546", boot="10", process="3")
    assert out.launches == 1
    assert out.worker_seconds.tolist() == [60.0]  # up 13 s, billed 60
    assert out.latencies.tolist() == [13.0]


def test_cse546_launches_one_worker_per_queued_clip_up_to_19_and_quits_when_empty(run):
    assert run("burst:5", "seed-cse546").launches == 5
    out = run("burst:40", "seed-cse546")
    assert out.launches == 19
    # 19 boot together: two rounds of 19, then 2; the 17 idle ones quit at once.
    assert sorted(out.worker_seconds.tolist()) == [66.0] * 17 + [69.0] * 2


def test_classifycloud_keeps_one_worker_and_scales_by_qos(run):
    out = run("burst:40", "seed-classifycloud:10:1")  # ceil(40 / 10) = 4 workers
    assert out.launches == 4
    assert out.timeline["workers"][-1] == 1  # the one it always keeps
    damped = run("burst:40", "seed-classifycloud:10:0.5")  # half the gap each tick: 2, then 1, then 1
    assert damped.timeline["workers"][:4].tolist() == [2, 3, 4, 4]


def test_target_tracking_aims_at_backlog_per_instance(run):
    # target 60 s / 3 s = 20 clips per instance.
    assert run("burst:40", "aws-target-tracking").launches == 2
    assert run("burst:40", "aws-target-tracking:5").launches == 8


def test_default_scales_in_without_killing_busy_workers(run):
    out = run("burst:40", "default")
    # Nobody leaves while clips wait: all 19 work both full rounds.
    assert sorted(out.worker_seconds.tolist()) == [66.0] * 17 + [69.0] * 2


def test_runs_are_reproducible(run):
    a, b = run("poisson:1:600", "default", seed=4), run("poisson:1:600", "default", seed=4)
    assert np.array_equal(a.finished, b.finished) and a.launches == b.launches


@pytest.mark.parametrize("trace", ["burst:40", "poisson:0.5:3600"])
def test_default_has_the_lowest_p95_and_costs_no_more_than_the_seeds(run, trace):
    results = {p: summarise(run(trace, p), 0.085) for p in BUILT_INS}
    best = results.pop("default")
    assert all(best["p95_s"] <= other["p95_s"] for other in results.values())
    for seed in ("seed-cse546", "seed-classifycloud"):
        assert best["instance_seconds"] <= results[seed]["instance_seconds"]
