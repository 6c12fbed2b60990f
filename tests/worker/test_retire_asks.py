"""Retire asks from the worker's side: an idle worker past Asked's minimum uptime
takes one retire ask and terminates its instance; a young or busy one leaves
the ask for another."""

from __future__ import annotations

import itertools
import json

import pytest

from edgecloud.protocol.keys import result_key
from edgecloud.retirement import EC2_MINIMUM_BILLED_S
from edgecloud.worker.main import Worker


@pytest.fixture
def make_worker(settings, mocked_aws):
    aws, queues = mocked_aws
    settings.worker.wait_seconds = 0
    settings.worker.idle_timeout = 10_000  # never the reason in these tests

    def make(**kwargs) -> Worker:
        return Worker(settings, aws, queues=queues, **kwargs)

    return make


@pytest.fixture
def ask(mocked_aws):
    """Put one retire ask on the queue, as the controller does."""
    aws, queues = mocked_aws

    def put(n: int = 1) -> None:
        for _ in range(n):
            aws.sqs.send_message(
                QueueUrl=queues.retire, MessageBody=json.dumps({"version": 1, "reason": "surplus", "at": "now"})
            )

    return put


def asks_left(aws, queues) -> int:
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=queues.retire,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def instance_state(aws, instance_id) -> str:
    return aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]["Name"]


def test_an_idle_worker_past_its_first_minute_takes_an_ask_and_terminates(make_worker, ask, mocked_aws, instance_id):
    aws, queues = mocked_aws
    ask(2)
    seen_uptimes = []
    ticks = itertools.count(step=10.0)  # 10 s per look at the clock

    def clock():
        now = next(ticks)
        seen_uptimes.append(now)
        return now

    worker = make_worker(instance_id=instance_id, clock=clock)
    assert worker.run() == "retired"
    assert instance_state(aws, instance_id) in {"shutting-down", "terminated"}
    assert worker.asks_taken == 1 and asks_left(aws, queues) == 1  # took exactly one, left the other
    assert seen_uptimes[-1] >= EC2_MINIMUM_BILLED_S  # not inside the billed first minute


def test_a_young_worker_leaves_the_ask_for_another(make_worker, ask, mocked_aws, instance_id):
    aws, queues = mocked_aws
    ask()
    receives = []
    aws.sqs.meta.events.register(
        "before-parameter-build.sqs.ReceiveMessage", lambda params, **kw: receives.append(params["QueueUrl"])
    )
    ticks = itertools.count()
    made = []

    def clock():  # 1 s per look; told to stop well inside its first minute
        now = next(ticks)
        if now >= 30:
            made[0].stop()
        return float(now)

    made.append(make_worker(instance_id=instance_id, clock=clock))
    assert made[0].run() == "stopped"
    assert queues.retire not in receives  # never even looked: it would not act on an ask
    assert asks_left(aws, queues) == 1 and instance_state(aws, instance_id) == "running"


def test_a_worker_holding_a_job_never_looks_and_finishes_it_first(
    make_worker, ask, enqueue, mocked_aws, instance_id, vtest_mp4
):
    aws, queues = mocked_aws
    job = enqueue(vtest_mp4)
    ask()
    looked_while_holding = []
    ticks = itertools.count(start=1000.0, step=1.0)  # long past the first minute
    worker = make_worker(instance_id=instance_id, clock=lambda: next(ticks))

    def on_receive(params, **kw):
        if params["QueueUrl"] == queues.retire:
            looked_while_holding.append(worker.holding)

    aws.sqs.meta.events.register("before-parameter-build.sqs.ReceiveMessage", on_receive)
    assert worker.run() == "retired"
    assert worker.tasks_done == 1 and worker.asks_taken == 1
    assert looked_while_holding == [False]  # once, after the short poll that found the queue empty
    aws.s3.head_object(Bucket=worker.settings.storage.results_bucket, Key=result_key(job.clip_id))  # stored
    assert instance_state(aws, instance_id) in {"shutting-down", "terminated"}


def test_no_retire_queue_means_idle_timeout_only(make_worker, mocked_aws, settings, instance_id):
    aws, queues = mocked_aws
    aws.sqs.delete_queue(QueueUrl=queues.retire)  # a stack from before the retire queue
    settings.worker.idle_timeout = 100
    ticks = itertools.count(step=10.0)
    worker = make_worker(instance_id=instance_id, clock=lambda: next(ticks))
    assert worker.run() == "retired"  # by its idle timer, after warning once
    assert worker.asks_taken == 0 and instance_state(aws, instance_id) in {"shutting-down", "terminated"}
