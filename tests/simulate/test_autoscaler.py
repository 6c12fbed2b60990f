"""The scaling policy, pinned: cap, booting workers, steady load, cold start, scale-in."""

import pytest

from edgecloud.config import AutoscalerSettings
from edgecloud.controller.autoscaler import Observation, arrival_rate, decide, surplus

SETTINGS = AutoscalerSettings()  # 0..19 workers, target 60 s, boot 60 s, 3 s per clip


def obs(**kw):
    base = dict(visible=0, in_flight=0, booting=0, polling=0, process_time_s=3.0, boot_time_s=60.0)
    return Observation(**{**base, **kw})


def test_scales_from_zero_on_the_first_clip():
    assert decide(obs(visible=1), SETTINGS) == 1


def test_an_empty_queue_with_no_load_launches_nothing():
    assert decide(obs(), SETTINGS) == 0
    assert surplus(obs(), SETTINGS) == 0


@pytest.mark.parametrize("pending,running,retiring", [(0, 0, 0), (5, 0, 0), (3, 4, 2), (19, 0, 0)])
def test_never_exceeds_the_cap_counting_booting_and_retiring_workers(pending, running, retiring):
    launch = decide(obs(visible=10_000, booting=pending, polling=running, retiring=retiring), SETTINGS)
    assert launch == max(0, SETTINGS.max_workers - pending - running - retiring)


def test_a_burst_launches_to_the_cap_when_boot_time_eats_the_target():
    # 40 clips x 3 s, boot 60 s of a 60 s target: every worker that can help, now.
    assert decide(obs(visible=40), SETTINGS) == 19


def test_booting_workers_are_counted():
    cold = decide(obs(visible=6), SETTINGS)
    assert cold == 6
    assert decide(obs(visible=6, booting=cold, booting_s=(5.0,) * cold), SETTINGS) == 0


def test_no_launch_when_running_workers_drain_the_backlog_before_a_new_one_boots():
    # 3 workers do 60 clips in the 60 s a new worker needs to boot.
    assert decide(obs(visible=50, in_flight=3, polling=3), SETTINGS) == 0
    assert decide(obs(visible=80, in_flight=3, polling=3), SETTINGS) > 0


def test_retiring_workers_are_not_capacity():
    assert decide(obs(visible=3, retiring=5), SETTINGS) == 3


def test_steady_load_gets_workers_for_its_rate_at_the_target_utilization():
    # 0.5 clips/s x 3 s = 1.5 busy workers; at 80 % that is 2, launched as clips come and kept.
    assert decide(obs(arrival_rate=0.5, quiet_s=1.0, visible=1, in_flight=1, polling=1), SETTINGS) == 1
    assert surplus(obs(arrival_rate=0.5, quiet_s=1.0, polling=2), SETTINGS) == 0


@pytest.mark.parametrize("rate", [0.05, 0.5, 3.0, 30.0])
def test_never_more_workers_than_there_is_work_for(rate):
    # Issue 14: 19 workers for 9 clips. Whatever the rate says, a worker more than the clips queued
    # and in flight would find nothing.
    for visible, in_flight, up in [(0, 0, 0), (1, 0, 0), (9, 0, 0), (3, 2, 2), (40, 0, 5)]:
        seen = obs(visible=visible, in_flight=in_flight, polling=up, arrival_rate=rate, quiet_s=1.0)
        assert up + decide(seen, SETTINGS) <= max(up, visible + in_flight)


def test_no_flapping_on_a_steady_load():
    steady = obs(arrival_rate=0.5, quiet_s=2.0, polling=3, in_flight=1, visible=1)
    for _ in range(10):
        assert decide(steady, SETTINGS) == 0
        assert surplus(steady, SETTINGS) == 0
    # Nor after the policy's own launches land.
    start = obs(arrival_rate=0.5, quiet_s=2.0, visible=2)
    launched = decide(start, SETTINGS)
    after = obs(arrival_rate=0.5, quiet_s=2.0, visible=2, booting=launched, booting_s=(5.0,) * launched)
    assert decide(after, SETTINGS) == 0 and surplus(after, SETTINGS) == 0


def test_hysteresis_keeps_a_worker_the_rate_alone_would_not_launch():
    # 1.5 busy: launching stops at 2 workers, letting go starts above 3.
    assert decide(obs(arrival_rate=0.5, quiet_s=1.0, polling=2), SETTINGS) == 0
    assert surplus(obs(arrival_rate=0.5, quiet_s=1.0, polling=3), SETTINGS) == 0
    assert surplus(obs(arrival_rate=0.5, quiet_s=1.0, polling=5), SETTINGS) == 2


def test_once_submissions_stop_every_worker_may_go():
    after_burst = obs(arrival_rate=40 / 65, quiet_s=65.0, polling=19, in_flight=19, visible=2)
    assert surplus(after_burst, SETTINGS) == 19
    assert decide(after_burst, SETTINGS) == 0
    # A short gap in a stream is not the end of it.
    assert surplus(obs(arrival_rate=0.5, quiet_s=8.0, polling=3), SETTINGS) == 0


def test_min_workers_are_launched_and_kept():
    s = AutoscalerSettings(min_workers=2)
    assert decide(obs(), s) == 2
    assert surplus(obs(polling=5, quiet_s=1e6), s) == 3


def test_arrival_rate_is_never_measured_over_less_than_a_minute():
    assert arrival_rate(40, 0.0, SETTINGS) == pytest.approx(40 / 60)
    assert arrival_rate(150, 1000.0, SETTINGS) == pytest.approx(150 / SETTINGS.rate_window_s)
