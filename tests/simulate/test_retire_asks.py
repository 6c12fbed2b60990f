"""Retire asks: the policy's side (decide and surplus agree, no
asks on a backlog) and the simulator's model of it (asks taken by idle
workers only, honouring Asked's minimum uptime; no launch-retire flapping)."""

import math

import numpy as np
import pytest

from edgecloud.config import AutoscalerSettings, WorkerSettings
from edgecloud.controller.autoscaler import Observation, decide, retire_asks, surplus
from edgecloud.retirement import EC2_MINIMUM_BILLED_S

SETTINGS = AutoscalerSettings()


def obs(**kw):
    base = dict(visible=0, in_flight=0, booting=0, polling=0, process_time_s=3.0, boot_time_s=60.0)
    return Observation(**{**base, **kw})


def test_defaults_keep_the_wanted_worker_past_the_rate_window():
    # decide() wants a worker while the window holds a clip: the idle timer must not end it first.
    assert WorkerSettings().idle_timeout >= SETTINGS.rate_window_s


@pytest.mark.parametrize("start_rate", [0.05, 0.5, 3.0])
def test_no_launch_right_after_an_ask_on_a_decaying_rate(start_rate):
    workers, asked_total = 0, 0
    for tick in range(400):
        rate = start_rate * 0.97**tick if tick < 300 else 0.0  # fades, then the window holds no clip
        in_hand = math.ceil(rate * 3.0 - 1e-9)  # clips in flight as the stream goes: the work launches are for
        seen = obs(
            polling=workers,
            in_flight=min(in_hand, workers),
            visible=max(0, in_hand - workers),
            arrival_rate=rate,
            quiet_s=1.0,
        )
        launch = decide(seen, SETTINGS)
        ask = retire_asks(seen, SETTINGS)
        assert not (launch and ask), f"tick {tick}: launching {launch} and asking {ask} at once"
        workers += launch
        if ask:
            asked_total += ask
            workers -= ask  # idle workers take the asks and leave
            after = obs(
                polling=workers,
                in_flight=min(in_hand, workers),
                visible=max(0, in_hand - workers),
                arrival_rate=rate,
                quiet_s=1.0,
            )
            assert decide(after, SETTINGS) == 0, f"tick {tick}: relaunch right after {ask} left at rate {rate}"
    assert asked_total > 0 and workers == 0


def test_surplus_leaves_no_fewer_than_decide_keeps():
    for rate in np.linspace(0.0, 5.0, 101):
        for workers in range(20):
            seen = obs(polling=workers, arrival_rate=float(rate), quiet_s=1.0)
            if decide(seen, SETTINGS):
                continue  # short of workers: nobody is surplus
            left = workers - surplus(seen, SETTINGS)
            assert decide(obs(polling=left, arrival_rate=float(rate), quiet_s=1.0), SETTINGS) == 0


def test_no_asks_while_a_backlog_waits():
    quiet = dict(arrival_rate=0.0, polling=5, in_flight=5)
    assert surplus(obs(visible=5, **quiet), SETTINGS) == 5
    # 5 workers at 3 s a clip take 5 + 5 * 5 / 3 clips before the next tick (5 s): no asks on more.
    assert retire_asks(obs(visible=14, **quiet), SETTINGS) == 0
    assert retire_asks(obs(visible=50, **quiet), SETTINGS) == 0
    # Fewer waiting: the queue empties before the next tick, so the asks wait there for the
    # workers that find it empty; only a worker that does acts on one.
    assert retire_asks(obs(visible=13, **quiet), SETTINGS) == 5
    assert retire_asks(obs(visible=2, **quiet), SETTINGS) == 5
    assert retire_asks(obs(visible=0, **quiet), SETTINGS) == 5
    assert retire_asks(obs(visible=1, booting=3), SETTINGS) == 0  # nobody up to take it yet


def test_a_single_clip_gets_one_worker_not_one_per_idle_timeout(run):
    out = run("burst:1", "default", boot="60", process="3")
    assert out.launches == 1 and out.asks >= 1
    # It leaves on an ask once the rate window has passed, well before its idle timer.
    assert out.worker_seconds[0] < 60 + SETTINGS.rate_window_s + 60
    # Nor does a shorter idle timer make it relaunch for the rate alone: no clip, no worker.
    assert run("burst:1", "default-idle-only", worker=WorkerSettings(idle_timeout=60)).launches == 1


def test_a_bursts_fleet_leaves_when_the_queue_empties(run):
    default = run("burst:40", "default")
    quits_when_empty = run("burst:40", "seed-cse546")
    idle_only = run("burst:40", "default-idle-only")
    assert default.asks >= 19
    assert default.worker_seconds.sum() <= quits_when_empty.worker_seconds.sum()
    assert default.worker_seconds.sum() < idle_only.worker_seconds.sum() / 2


def test_asks_wait_for_the_billed_first_minute(run):
    # Workers boot in 5 s and are done by 7 s; asked at once, they still stay until
    # their uptime reaches Asked's minimum, then leave at their next empty poll.
    out = run("burst:5", "default", boot="5", process="1", interval=1)
    t, workers = out.timeline["t"], out.timeline["workers"]
    assert out.asks >= 5
    assert workers[t < EC2_MINIMUM_BILLED_S].min() == 5
    # Gone at their first empty poll past the minute (polls every wait_seconds from 7 s).
    assert workers[-1] == 0 and t[-1] <= EC2_MINIMUM_BILLED_S + WorkerSettings().wait_seconds + 2
