"""The worker's retirement rule: composable, and never while holding a job."""

import pytest

from edgecloud.config import WorkerSettings
from edgecloud.retirement import Asked, IdleTimeout, MaxTasks, MinUptime, Never, from_settings, should_retire


@pytest.mark.parametrize(
    "policy",
    [
        IdleTimeout(0),
        IdleTimeout(30),
        MaxTasks(1),
        MinUptime(0),
        IdleTimeout(0) | MaxTasks(1),
        IdleTimeout(0) & MinUptime(0),
        Asked(0),
    ],
)
def test_never_retires_while_holding_a_job(policy):
    assert not policy.should_retire(10_000, True, tasks_done=10_000, uptime_s=10_000, asked=True)


def test_idle_timeout_retires_at_the_timeout():
    rule = IdleTimeout(30)
    assert not rule.should_retire(29.9, False)
    assert rule.should_retire(30, False)


def test_zero_idle_timeout_retires_on_first_empty_poll():
    assert IdleTimeout(0).should_retire(0.0, False)


def test_max_tasks_counts_finished_jobs():
    rule = MaxTasks(3)
    assert not rule.should_retire(0, False, tasks_done=2)
    assert rule.should_retire(0, False, tasks_done=3)


def test_or_retires_when_either_rule_does():
    rule = IdleTimeout(60) | MaxTasks(5)
    assert rule.should_retire(0, False, tasks_done=5)
    assert rule.should_retire(60, False, tasks_done=0)
    assert not rule.should_retire(59, False, tasks_done=4)


def test_and_waits_for_both_rules():
    rule = IdleTimeout(10) & MinUptime(60)
    assert not rule.should_retire(15, False, uptime_s=40)  # idle, but inside the billed minute
    assert rule.should_retire(15, False, uptime_s=61)
    assert not rule.should_retire(5, False, uptime_s=600)


def test_uptime_defaults_to_idle_time():
    assert MinUptime(60).should_retire(61, False)
    assert not MinUptime(60).should_retire(10, False)


def test_never_keeps_running():
    assert not Never().should_retire(1e9, False, tasks_done=10**6)


def test_asked_waits_out_the_billed_minute():
    rule = Asked()
    assert not rule.should_retire(0, False, uptime_s=30, asked=True)  # billed anyway: stay useful
    assert rule.should_retire(0, False, uptime_s=60, asked=True)
    assert not rule.should_retire(1e6, False, uptime_s=1e6, asked=False)


def test_configured_rule_uses_idle_timeout_or_a_request():
    assert from_settings(WorkerSettings(idle_timeout=45)) == IdleTimeout(45) | Asked()
    assert should_retire(0, False, uptime_s=61, asked=True)
    assert should_retire(45, False, WorkerSettings(idle_timeout=45))
    assert not should_retire(44, False, WorkerSettings(idle_timeout=45))
    assert not should_retire(1e6, True)


@pytest.mark.parametrize("bad", [lambda: IdleTimeout(-1), lambda: MaxTasks(0)])
def test_rejects_nonsense(bad):
    with pytest.raises(ValueError):
        bad()
