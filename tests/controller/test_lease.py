"""One autoscaler in charge: the DynamoDB lease, and two controllers sharing one moto server."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from edgecloud.aws import Aws
from edgecloud.controller.lease import Lease
from edgecloud.controller.service import ControllerService
from edgecloud.fleet_query import fleet_instances


class Clock:
    """A clock the test moves: lease expiry without sleeping."""

    def __init__(self, now: float = 1_000_000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def rivals(settings, aws, interval: float) -> tuple[Clock, Lease, Lease]:
    """Two controllers' claims on one lease, on one clock the test moves."""
    clock = Clock()
    return clock, *(Lease(aws, settings.tables.leases, interval=interval, holder=h, clock=clock) for h in "ab")


def test_one_holder_at_a_time_and_expiry_hands_over(settings, mocked_aws):
    clock, a, b = rivals(settings, mocked_aws[0], interval=2)
    assert a.acquire() and not b.acquire()
    clock.now += 2.9  # a renews within its 3 s lease ...
    assert a.acquire() and not b.acquire()
    assert a.describe() == {"leader": "a", "this_controller": "a", "leading": True, "expires_in_s": 3.0}
    assert b.describe()["leading"] is False and b.describe()["leader"] == "a"
    clock.now += 2.9  # ... and keeps it while it renews
    assert not b.acquire()
    clock.now += 3.0  # a stopped renewing: 1.5 intervals after its last renewal the lease is free
    assert b.describe()["leader"] is None
    assert b.acquire() and b.acquired_at == clock.now
    assert not a.acquire() and not a.held  # the old leader learns it lost on its next try
    assert not a.release()  # and cannot delete b's lease
    assert a.current().holder == "b"


def test_a_launch_needs_half_an_interval_of_lease_left(settings, mocked_aws):
    clock, a, _ = rivals(settings, mocked_aws[0], interval=2)  # a 3 s lease
    assert a.acquire()
    clock.now += 1.9
    assert a.still_held()  # 1.1 s left: a launch now lands well before anyone else may lead
    clock.now += 0.2
    assert a.held and not a.still_held()  # 0.9 s left: a slow launch could overlap a new leader's


def test_clean_release_hands_over_at_once(settings, mocked_aws):
    _, a, b = rivals(settings, mocked_aws[0], interval=5)
    assert a.acquire() and not b.acquire()
    assert a.release() and a.current() is None
    assert b.acquire()  # same instant: no waiting for expiry


def test_without_the_table_a_controller_scales_alone(settings, mocked_aws):
    aws, _ = mocked_aws
    lease = Lease(aws, "no-such-table", interval=1, holder="a")
    assert lease.acquire() and lease.held  # a stack from before the leases table keeps its autoscaler


def _burst(settings, n: int) -> None:
    aws = Aws(settings.aws)
    url = aws.sqs.get_queue_url(QueueName=settings.queues.jobs)["QueueUrl"]
    for i in range(n):
        aws.sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": i}))


def _controller(settings, data_dir: Path) -> ControllerService:
    own = settings.model_copy(deep=True)
    own.controller.data_dir = data_dir
    return ControllerService(own).start()


@pytest.mark.slow
def test_two_controllers_one_leader_and_a_take_over_within_two_intervals(stack_settings, tmp_path, issue_tokens):
    s = stack_settings
    aws = Aws(s.aws)
    s.fleet.backend = "ec2"  # instances in moto's EC2 that never poll: they stay booting, so counts are exact
    s.fleet.ami_id = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    s.autoscaler.max_workers = 2
    s.autoscaler.interval = 1.0
    _burst(s, 30)
    first, second = _controller(s, tmp_path / "c1"), _controller(s, tmp_path / "c2")
    try:
        controllers = (first, second)
        assert first.scaling.wait_for(lambda: first.scaling.steps >= 3, 30)
        assert second.scaling.wait_for(lambda: second.scaling.steps >= 3, 30)
        leaders = [c for c in controllers if c.scaling.lease.held]
        assert len(leaders) == 1, [c.scaling.lease for c in controllers]
        leader = leaders[0]
        follower = second if leader is first else first
        # Only a leader launches; the fleet is exactly max_workers, never more, whoever looked. (On a loaded
        # machine a loop may miss its lease's renewal and the lease change hands once before this look.)
        launched_before = leader.scaling.launched_total
        follower_before = follower.scaling.launched_total
        assert launched_before + follower_before == 2
        assert len(fleet_instances(aws, s.fleet.name)) == 2  # every state: nothing launched and gone
        assert follower.scaling.last.leading is False and follower.scaling.last.observation.workers == 2
        api = follower.app.test_client()  # any controller's /v1/stats says who leads
        api.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {issue_tokens(s)['operator']}"
        stats = api.get("/v1/stats").get_json()["autoscaler"]
        assert stats["leader"] == leader.scaling.lease.holder and stats["leading"] is False
        assert stats["this_controller"] == follower.scaling.lease.holder

        leader.scaling.stop()  # the leader dies: its loop ends without giving the lease back
        dead_at = time.time()
        assert follower.scaling.wait_for(lambda: follower.scaling.lease.held, 10)
        took_over_s = follower.scaling.lease.acquired_at - dead_at
        print(f"take-over {took_over_s:.2f} s = {took_over_s / s.autoscaler.interval:.2f} intervals")
        assert took_over_s <= 2 * s.autoscaler.interval

        # The new leader is in charge: a worker gone is replaced, and the cap still holds.
        aws.ec2.terminate_instances(InstanceIds=[next(iter(fleet_instances(aws, s.fleet.name)))])
        assert follower.scaling.wait_for(lambda: follower.scaling.launched_total == follower_before + 1, 10)
        assert len(fleet_instances(aws, s.fleet.name, ("pending", "running"))) == 2
        assert leader.scaling.launched_total == launched_before  # the dead leader launched nothing more
    finally:
        for c in controllers:
            c.close()
    assert follower.scaling.lease.current() is None  # a clean close gives the lease back
