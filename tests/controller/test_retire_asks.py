"""Retire asks from the scaling loop on the retire queue, on moto.

The loop tops the queue up to ``retire_asks`` (surplus workers, none on a
backlog), counting asks still waiting or taken by a worker on its way out.
"""

from __future__ import annotations

import json

import pytest

from edgecloud.controller.fleet.ec2 import Ec2Fleet
from edgecloud.controller.ledger import Ledger
from edgecloud.controller.metrics import Metrics
from edgecloud.controller.resources import make_parts
from edgecloud.controller.scaling import ScalingLoop
from edgecloud.controller.store import ClipStore


@pytest.fixture
def parts(settings, mocked_aws, tmp_path):
    aws, queues = mocked_aws
    settings.fleet.backend = "ec2"
    settings.fleet.ami_id = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    ledger = Ledger.in_dir(tmp_path)  # no clips submitted: no steady load, every idle worker is surplus
    yield aws, queues, ClipStore(aws, queues, settings), Ec2Fleet(settings, aws), ledger
    ledger.close()


def waiting(aws, url) -> tuple[int, int]:
    attrs = aws.sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def take_ask(aws, queues) -> dict:
    """What a retiring worker does first: receive one ask (it is then in flight)."""
    (message,) = aws.sqs.receive_message(QueueUrl=queues.retire, MaxNumberOfMessages=1)["Messages"]
    return message


def test_asks_surplus_workers_to_leave_counting_outstanding_asks(settings, parts):
    aws, queues, store, fleet, ledger = parts
    metrics = Metrics()
    loop = ScalingLoop(make_parts(settings, store=store, fleet=fleet, ledger=ledger, metrics=metrics))
    assert loop.step().asked == 0  # no workers: nobody to ask
    ids = fleet.launch(3)
    step = loop.step()
    assert (step.observation.workers, step.wanted, step.asked) == (3, 0, 3)
    assert waiting(aws, queues.retire) == (3, 0)
    body = json.loads(take_ask(aws, queues)["Body"])
    assert body["version"] == 1 and body["reason"] == "surplus" and body["at"]
    # One ask is in a worker's hands, the worker not gone yet: still outstanding, nothing new.
    assert loop.step().asked == 0
    assert waiting(aws, queues.retire) == (2, 1)
    # That worker leaves and deletes its ask: 2 workers, 2 asks waiting.
    message = aws.sqs.receive_message(QueueUrl=queues.retire, MaxNumberOfMessages=1, VisibilityTimeout=0)["Messages"][0]
    aws.sqs.delete_message(QueueUrl=queues.retire, ReceiptHandle=message["ReceiptHandle"])
    aws.ec2.terminate_instances(InstanceIds=ids[:1])
    assert loop.step().asked == 0
    # An ask lost (expired): topped up to the surplus again, never beyond it.
    lost = aws.sqs.receive_message(QueueUrl=queues.retire, MaxNumberOfMessages=1, VisibilityTimeout=0)["Messages"][0]
    aws.sqs.delete_message(QueueUrl=queues.retire, ReceiptHandle=lost["ReceiptHandle"])
    assert loop.step().asked == 1
    visible, in_flight = waiting(aws, queues.retire)
    assert visible + in_flight == fleet.count() == 2
    assert loop.asked_total == 4
    assert metrics.registry.get_sample_value("edgecloud_retire_asks_total") == 4


def test_no_asks_while_a_backlog_waits(settings, parts):
    aws, queues, store, fleet, ledger = parts
    settings.autoscaler.max_workers = 2  # the backlog launches none beyond these
    fleet.launch(2)
    for i in range(5):
        aws.sqs.send_message(QueueUrl=queues.jobs, MessageBody=json.dumps({"n": i}))
    loop = ScalingLoop(make_parts(settings, store=store, fleet=fleet, ledger=ledger))
    for _ in range(3):
        step = loop.step()
        assert step.observation.visible == 5 and step.asked == 0
    assert waiting(aws, queues.retire) == (0, 0)
    # Drained (no job waiting): now the idle fleet is asked to leave.
    while got := aws.sqs.receive_message(QueueUrl=queues.jobs, MaxNumberOfMessages=10).get("Messages"):
        for m in got:
            aws.sqs.delete_message(QueueUrl=queues.jobs, ReceiptHandle=m["ReceiptHandle"])
    assert loop.step().asked == 2


def test_no_asks_when_the_policy_keeps_every_worker(settings, parts):
    aws, queues, store, fleet, ledger = parts
    settings.autoscaler.min_workers = 2
    fleet.launch(2)
    loop = ScalingLoop(make_parts(settings, store=store, fleet=fleet, ledger=ledger))
    assert [loop.step().asked for _ in range(3)] == [0, 0, 0]
    fleet.launch(1)
    assert loop.step().asked == 1  # one above min_workers
    assert waiting(aws, queues.retire) == (1, 0)


def test_no_asks_in_a_step_that_launches(settings, parts):
    aws, queues, store, fleet, ledger = parts
    loop = ScalingLoop(
        make_parts(settings, store=store, fleet=fleet, ledger=ledger),
        policy=lambda obs, cfg: 1,
        retire_asks=lambda obs, cfg: 5,
    )
    step = loop.step()
    assert len(step.launched) == 1 and step.asked == 0
    assert waiting(aws, queues.retire) == (0, 0)


def test_retire_queue_lets_stale_asks_expire(mocked_aws):
    aws, queues = mocked_aws  # made by edgecloud.provision.ensure_resources
    attrs = aws.sqs.get_queue_attributes(QueueUrl=queues.retire, AttributeNames=["All"])["Attributes"]
    assert attrs["MessageRetentionPeriod"] == "60"  # SQS's minimum: an ask nobody took is gone in a minute
    assert int(attrs["VisibilityTimeout"]) <= 30  # a worker that failed to retire frees its ask soon
