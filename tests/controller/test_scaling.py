"""The scaling loop: observations from SQS, EC2 and the ledger; launches never past the cap."""
from __future__ import annotations

import pytest

from edgecloud.controller.autoscaler import Observation
from edgecloud.controller.fleet.ec2 import Ec2Fleet
from edgecloud.controller.ledger import Ledger
from edgecloud.controller.resources import make_parts
from edgecloud.controller.scaling import ScalingLoop
from edgecloud.controller.store import ClipStore
from edgecloud.jobs import new_clip_id, utcnow


@pytest.fixture
def loop_parts(settings, mocked_aws, tmp_path):
    aws, queues = mocked_aws
    settings.fleet.backend = "ec2"
    settings.fleet.ami_id = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    settings.autoscaler.max_workers = 3
    settings.autoscaler.boot_time_s = 0
    settings.autoscaler.target_latency_s = 10
    settings.autoscaler.process_time_s = 5
    ledger = Ledger.in_dir(tmp_path)
    yield aws, queues, ledger, ClipStore(aws, queues, settings), Ec2Fleet(settings, aws)
    ledger.close()


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
    loop = ScalingLoop(make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=lambda obs, cfg: seen.append(obs) or 0)
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
    loop = ScalingLoop(make_parts(settings, store=store, fleet=fleet, ledger=ledger), policy=lambda obs, cfg: seen.append(obs) or 0)
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
    # 3 clips in the window, measured over at least a minute since the loop has just started.
    assert seen[-1].arrival_rate == pytest.approx(3 / 60)
    assert 10 <= seen[-1].quiet_s < 60
