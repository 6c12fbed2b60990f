"""The scaling loop: observations from SQS, EC2 and the ledger; launches never past the cap."""

from __future__ import annotations

import pytest

from edgecloud.clock import utcnow
from edgecloud.controller.autoscaler import Observation
from edgecloud.controller.resources import make_parts
from edgecloud.controller.scaling import ScalingLoop
from edgecloud.protocol.ids import new_clip_id


def fill_queue(aws, queues, n):
    for i in range(n):
        aws.sqs.send_message(QueueUrl=queues.jobs, MessageBody=f'{{"n": {i}}}')


def test_loop_launches_for_the_backlog_and_counts_booting_workers(settings, loop_parts):
    aws, queues, ledger, store, fleet = loop_parts
    loop = ScalingLoop(make_parts(settings, store=store, fleet=fleet, ledger=ledger))
    assert loop.step().wanted == 0  # empty queue: nothing
    fill_queue(aws, queues, 50)
    step = loop.step()
    assert step.observation.visible == 50 and step.wanted == 3 and len(step.launched) == 3
    # The launched workers are still booting or idle: the next steps must not launch more.
    for _ in range(3):
        step = loop.step()
        assert step.observation.workers == 3 and step.wanted == 0
    assert fleet.count() == 3 and loop.launched_total == 3


def test_loop_enforces_the_cap_even_if_the_policy_asks_for_more(settings, loop_parts):
    aws, queues, ledger, store, fleet = loop_parts
    greedy = ScalingLoop(make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=lambda obs, cfg: 100)
    assert len(greedy.step().launched) == 3
    assert greedy.step().wanted == 0
    aws.ec2.terminate_instances(InstanceIds=fleet.ids()[:1])  # one worker retires
    assert greedy.step().wanted == 1 and fleet.count() == 3


def test_observation_uses_recent_processing_time(settings, loop_parts):
    aws, queues, ledger, store, fleet = loop_parts
    seen: list[Observation] = []
    loop = ScalingLoop(
        make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=lambda obs, cfg: seen.append(obs) or 0
    )
    loop.step()
    assert seen[-1].process_time_s == settings.autoscaler.process_time_s
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    ledger.mark_finished(clip_id, "done", utcnow(), processed_by="i-1", process_s=1.25)
    fill_queue(aws, queues, 2)
    aws.sqs.receive_message(QueueUrl=queues.jobs, MaxNumberOfMessages=1)
    loop.step()
    assert seen[-1].process_time_s == 1.25
    assert (seen[-1].visible, seen[-1].in_flight) == (1, 1)


def test_loop_thread_survives_errors_and_stops(settings, loop_parts):
    import threading

    aws, queues, ledger, store, fleet = loop_parts
    calls = threading.Semaphore(0)

    def flaky(obs, cfg):
        calls.release()
        raise RuntimeError("policy bug")

    settings.autoscaler.interval = 0.05
    loop = ScalingLoop(make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=flaky).start()
    thread = loop._thread
    assert calls.acquire(timeout=10) and calls.acquire(timeout=10)  # called again after the first error
    loop.stop()
    assert not thread.is_alive() and fleet.count() == 0


def test_observation_carries_the_cloud_arrival_rate(settings, loop_parts):
    from datetime import timedelta

    aws, queues, ledger, store, fleet = loop_parts
    seen: list[Observation] = []
    loop = ScalingLoop(
        make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=lambda obs, cfg: seen.append(obs) or 0
    )
    loop.step()
    assert seen[-1].arrival_rate == 0 and seen[-1].quiet_s is None
    now = utcnow()
    for age in (50, 20, 10):
        ledger.add(new_clip_id("pi-01"), "pi-01", "queued", now - timedelta(seconds=age))
    ledger.add(new_clip_id("pi-01"), "pi-01", "queued", now - timedelta(seconds=settings.autoscaler.rate_window_s + 5))
    edge_clip = new_clip_id("pi-01")  # processed on the Pi: no load on workers
    ledger.add(edge_clip, "pi-01", "queued", now - timedelta(seconds=1))
    ledger.mark_finished(edge_clip, "done", now, processed_by="edge")
    loop.step()
    # 3 clips in the window; the ledger's history reaches past the window, so over all of it
    # but the quiet since the latest clip (a stream that stopped does not fade into a slower one).
    assert seen[-1].arrival_rate == pytest.approx(3 / (settings.autoscaler.rate_window_s - seen[-1].quiet_s), rel=0.01)
    assert 10 <= seen[-1].quiet_s < 60


def test_young_ledger_rate_is_measured_over_at_least_a_minute(settings, loop_parts):
    aws, queues, ledger, store, fleet = loop_parts
    seen: list[Observation] = []
    loop = ScalingLoop(
        make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=lambda obs, cfg: seen.append(obs) or 0
    )
    from datetime import timedelta

    now = utcnow()
    for age in (20, 10, 5):  # the first clips ever: a burst is not a stream of that many per second
        ledger.add(new_clip_id("pi-01"), "pi-01", "queued", now - timedelta(seconds=age))
    loop.step()
    assert seen[-1].arrival_rate == pytest.approx(3 / 60)


def test_restart_does_not_inflate_the_rate(settings, loop_parts):
    """Issue 14: a restarted controller divided the persistent ledger's window of
    clips by its own uptime (at least 60 s), reading the rate up to 5x too high."""
    from datetime import timedelta

    aws, queues, ledger, store, fleet = loop_parts
    window = settings.autoscaler.rate_window_s
    now = utcnow()
    for age in range(5, int(window), 10):  # one clip every 10 s before the restart
        ledger.add(new_clip_id("pi-01"), "pi-01", "queued", now - timedelta(seconds=age))
    seen: list[Observation] = []
    restarted = ScalingLoop(
        make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=lambda obs, cfg: seen.append(obs) or 0
    )
    restarted.step()
    assert seen[-1].arrival_rate == pytest.approx(0.1, rel=0.05)


def test_workers_are_booting_until_they_report_and_then_what_they_report(settings, loop_parts):
    """Issue 14: EC2's `running` comes long before a worker polls; the workers' own reports decide."""
    from edgecloud.workers import WorkerStates

    aws, queues, ledger, store, fleet = loop_parts
    seen: list[Observation] = []
    loop = ScalingLoop(
        make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=lambda obs, cfg: seen.append(obs) or 0
    )
    ids = fleet.launch(3)
    loop.step()
    assert (seen[-1].booting, seen[-1].polling, seen[-1].busy, seen[-1].retiring) == (3, 0, 0, 0)
    assert len(seen[-1].booting_s) == 3 and all(0 <= s < 60 for s in seen[-1].booting_s)
    states = WorkerStates(aws, settings.tables.workers)
    states.report(ids[0], "polling")
    states.report(ids[1], "busy")
    states.report("i-gone", "busy")  # a worker no longer in the fleet is not counted
    loop.step()
    assert (seen[-1].booting, seen[-1].polling, seen[-1].busy, seen[-1].retiring) == (1, 2, 1, 0)
    WorkerStates(aws, settings.tables.workers).report(ids[0], "retiring")
    loop.step()
    assert (seen[-1].booting, seen[-1].polling, seen[-1].busy, seen[-1].retiring) == (1, 1, 1, 1)
    with pytest.raises(ValueError):
        states.report(ids[2], "running")  # EC2's word, not a worker state


def test_without_the_workers_table_ec2_states_stand_in(settings, loop_parts, caplog):
    # A stack from before the table: scaling goes on, counting EC2's running as polling.
    aws, queues, ledger, store, fleet = loop_parts
    aws.dynamodb.delete_table(TableName=settings.tables.workers)
    seen: list[Observation] = []
    loop = ScalingLoop(
        make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=lambda obs, cfg: seen.append(obs) or 0
    )
    fleet.launch(2)  # moto's instances are running at once
    loop.step()
    assert (seen[-1].booting, seen[-1].polling) == (0, 2)
    assert "cannot read workers' states" in caplog.text
