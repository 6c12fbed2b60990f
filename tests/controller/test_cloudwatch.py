"""The leader's CloudWatch metrics, read back from moto; followers publish nothing; in
target-tracking mode the loop publishes and launches only out of zero."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edgecloud.clock import utcnow
from edgecloud.controller.cloudwatch import NAMESPACE, p95
from edgecloud.controller.lease import Lease
from edgecloud.controller.resources import make_parts
from edgecloud.controller.scaling import ScalingLoop
from edgecloud.protocol.ids import new_clip_id


def fill_queue(aws, queues, n):
    for i in range(n):
        aws.sqs.send_message(QueueUrl=queues.jobs, MessageBody=f'{{"n": {i}}}')


def stats(aws, fleet: str, name: str, **dims: str) -> dict[str, float]:
    """Minimum, Maximum, SampleCount and Sum of one metric over the last ten minutes, in one period
    (so how the ticks fall into seconds does not matter)."""
    now = utcnow()
    dimensions = [{"Name": "Fleet", "Value": fleet}] + [{"Name": k, "Value": v} for k, v in dims.items()]
    (point,) = aws.cloudwatch.get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=name,
        Dimensions=dimensions,
        Period=900,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Statistics=["Minimum", "Maximum", "SampleCount", "Sum"],
    )["Datapoints"]
    return point


def finished_clips(ledger, latencies, now):
    for latency in latencies:
        clip_id = new_clip_id("pi-01")
        ledger.add(clip_id, "pi-01", "queued", now - timedelta(seconds=latency + 60))
        ledger.mark_finished(clip_id, "done", now - timedelta(seconds=60), processed_by="i-1", process_s=1.0)


def test_p95_is_the_nearest_rank():
    assert p95([]) is None and p95([4.0]) == 4.0
    assert p95([float(v) for v in range(1, 21)]) == 19.0


def test_leader_publishes_what_it_observed(settings, loop_parts):
    aws, queues, ledger, store, fleet = loop_parts
    now = utcnow()
    finished_clips(ledger, [float(v) for v in range(1, 21)], now)
    ledger.add(new_clip_id("pi-01"), "pi-01", "queued", now - timedelta(seconds=40))  # the oldest waiting
    started = new_clip_id("pi-01")
    ledger.add(started, "pi-01", "queued", now - timedelta(seconds=25))
    ledger.mark_started(started, now, "i-2")
    fill_queue(aws, queues, 6)
    loop = ScalingLoop(make_parts(settings, store=store, fleet=fleet, ledger=ledger))

    assert len(loop.step().launched) == 1  # 6 jobs of 1 s each (the ledger's median) and no worker
    for _ in range(2):
        ledger.add(new_clip_id("pi-01"), "pi-01", "queued", utcnow())
    loop.step()

    name = settings.fleet.name
    backlog = stats(aws, name, "BacklogPerWorker")  # 6 jobs, no worker (counted as one); 6 jobs, 1 booting
    assert (backlog["Minimum"], backlog["Maximum"], backlog["SampleCount"]) == (6.0, 6.0, 2)
    assert stats(aws, name, "Backlog")["Sum"] == 12.0
    workers = stats(aws, name, "FleetSize")
    assert (workers["Minimum"], workers["Maximum"], workers["SampleCount"]) == (0.0, 1.0, 2)
    assert stats(aws, name, "Workers", State="booting")["Sum"] == 1.0
    assert stats(aws, name, "Workers", State="busy")["Maximum"] == 0.0
    latency = stats(aws, name, "LatencyP95")
    assert (latency["Minimum"], latency["Maximum"]) == (19.0, 19.0)
    assert stats(aws, name, "ClipsSubmitted")["Sum"] == 2.0  # the two since the first tick
    oldest = stats(aws, name, "OldestJobAge")  # the queued clip, not the younger one in hand
    assert 40 <= oldest["Minimum"] <= oldest["Maximum"] < 60 and oldest["Unit"] == "Seconds"
    listed = aws.cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"]
    assert {m["MetricName"] for m in listed} == {
        "BacklogPerWorker",
        "Backlog",
        "OldestJobAge",
        "ClipsSubmitted",
        "Workers",
        "FleetSize",
        "LatencyP95",
    }
    # What target tracking reads: the same metric through GetMetricData.
    reply = aws.cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "backlog",
                "MetricStat": {
                    "Metric": {
                        "Namespace": NAMESPACE,
                        "MetricName": "BacklogPerWorker",
                        "Dimensions": [{"Name": "Fleet", "Value": name}],
                    },
                    "Period": 900,
                    "Stat": "Average",
                },
            }
        ],
        StartTime=now - timedelta(minutes=10),
        EndTime=utcnow() + timedelta(minutes=1),
    )
    assert reply["MetricDataResults"][0]["Values"] == [6.0]


def test_a_follower_publishes_nothing(settings, loop_parts):
    aws, queues, ledger, store, fleet = loop_parts
    Lease(aws, settings.tables.leases, interval=5, holder="another").acquire()
    fill_queue(aws, queues, 6)
    follower = ScalingLoop(
        make_parts(settings, store=store, fleet=fleet, ledger=ledger),
        lease=Lease(aws, settings.tables.leases, interval=5, holder="me"),
    )
    step = follower.step()
    assert not step.leading and step.observation.visible == 6 and fleet.count() == 0
    assert aws.cloudwatch.list_metrics(Namespace=NAMESPACE)["Metrics"] == []


def test_target_tracking_mode_publishes_and_only_scales_out_of_zero(settings, loop_parts):
    aws, queues, ledger, store, fleet = loop_parts
    settings.fleet.backend = "asg"
    settings.fleet.asg_name = "workers"
    settings.fleet.scaling = "target-tracking"
    fill_queue(aws, queues, 50)
    loop = ScalingLoop(
        make_parts(settings, store=store, fleet=fleet, ledger=ledger),
        policy=lambda obs, cfg: pytest.fail("the policy is AWS's in this mode"),
    )
    first = loop.step()  # a backlog and no worker: target tracking alone would never leave zero
    assert first.leading and first.wanted == 1 and len(first.launched) == 1
    for _ in range(2):  # from one worker on, the scaling is AWS's
        step = loop.step()
        assert step.leading and step.wanted == 0 and not step.launched and step.asked == 0
    assert fleet.count() == 1 and loop.launched_total == 1
    published = stats(aws, settings.fleet.name, "BacklogPerWorker")
    assert (published["Maximum"], published["SampleCount"]) == (50.0, 3)


def test_target_tracking_needs_an_auto_scaling_group(settings):
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="target-tracking"):
        settings.fleet.scaling = "target-tracking"  # with the local backend
