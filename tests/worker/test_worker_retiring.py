"""How a worker leaves: retirement when idle, stop signals (the job in hand handed back), its reported state."""

from __future__ import annotations

import itertools
import json

import pytest

from edgecloud.worker.main import Worker
from edgecloud.worker.retirers import Ec2Retirer, Unmanaged


def test_a_job_received_while_stopping_is_handed_back(make_worker, enqueue, mocked_aws, vtest_mp4, messages):
    job = enqueue(vtest_mp4)
    worker = make_worker()
    worker.stop()
    counts = worker.process_batch()
    assert (counts.received, counts.released, counts.done) == (1, 1, 0)
    assert [json.loads(b)["clip_id"] for b in messages("jobs")] == [job.clip_id]  # visible again at once
    assert worker.run() == "stopped"


def test_retires_after_idle_timeout_by_terminating_its_instance(make_worker, mocked_aws, settings, instance_id):
    aws, _ = mocked_aws
    settings.worker.idle_timeout = 5
    ticks = itertools.count()
    worker = make_worker(instance_id=instance_id, clock=lambda: float(next(ticks)))  # 1 s per look at the clock
    assert isinstance(worker.retirer, Ec2Retirer)
    assert worker.run() == "retired"
    state = aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] in {"shutting-down", "terminated"}


def test_retire_false_just_exits(make_worker, mocked_aws, settings, instance_id):
    aws, _ = mocked_aws
    settings.worker.idle_timeout = 2
    settings.worker.retire = False
    ticks = itertools.count()
    worker = make_worker(instance_id=instance_id, clock=lambda: float(next(ticks)))
    assert isinstance(worker.retirer, Unmanaged)
    assert worker.run() == "retired"
    state = aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] == "running"


def test_busy_worker_does_not_retire_while_work_keeps_coming(
    make_worker, enqueue, mocked_aws, settings, vtest_mp4, instance_id
):
    settings.worker.idle_timeout = 3  # shorter than 5 jobs take at one clock tick per look
    for _ in range(5):
        enqueue(vtest_mp4)
    ticks = itertools.count()
    worker = make_worker(instance_id=instance_id, clock=lambda: float(next(ticks)))
    assert worker.run() == "retired"
    assert worker.tasks_done == 5


def test_an_asg_worker_leaves_through_its_group(make_worker, settings):
    from edgecloud.worker.retirers import AsgRetirer

    settings.fleet.backend = "asg"
    settings.fleet.asg_name = "edgecloud-workers"
    retirer = make_worker(instance_id="i-0abc").retirer
    assert isinstance(retirer, AsgRetirer) and retirer.group_name == "edgecloud-workers"
    assert isinstance(make_worker().retirer, Unmanaged)  # off EC2: nothing to terminate


def test_a_stop_signal_as_a_poll_returns_hands_the_job_back(make_worker, enqueue, mocked_aws, vtest_mp4, messages):
    """SIGTERM landing after the poll returned a job but before the worker holds it must
    not leave that job hidden for its whole visibility timeout."""
    aws, _ = mocked_aws
    job = enqueue(vtest_mp4)
    real_receive = aws.sqs.receive_message
    received = []

    class SignalledWorker(Worker):
        @property
        def stopping(self):
            if received and not self._stop.is_set():
                self.on_signal()  # what the CLI's SIGTERM handler does
            return self._stop.is_set()

    def receive(**kwargs):
        reply = real_receive(**kwargs)
        received.extend(reply.get("Messages", []))
        return reply

    worker = SignalledWorker(make_worker().settings, aws, queues=make_worker().queues)
    aws.sqs.receive_message = receive
    try:
        counts = worker.process_batch()
    finally:
        del aws.sqs.receive_message
    assert (counts.received, counts.released, counts.done) == (1, 1, 0)
    assert [json.loads(b)["clip_id"] for b in messages("jobs")] == [job.clip_id]  # visible again at once


def test_a_refused_retirement_keeps_the_worker_serving(make_worker, settings):
    from botocore.exceptions import ClientError

    from edgecloud.worker.retirers import Retirer

    class RefusedOnce(Retirer):
        calls = 0

        def retire(self):
            self.calls += 1
            if self.calls == 1:  # e.g. an Auto Scaling group already at its minimum size
                raise ClientError(
                    {"Error": {"Code": "ValidationError", "Message": "below min size"}},
                    "TerminateInstanceInAutoScalingGroup",
                )

    settings.worker.idle_timeout = 2
    retirer = RefusedOnce()
    ticks = itertools.count()
    worker = make_worker(retirer=retirer, clock=lambda: float(next(ticks)))
    assert worker.run() == "retired"
    assert retirer.calls == 2


def test_a_second_stop_signal_hands_the_job_in_hand_back(
    make_worker, enqueue, mocked_aws, settings, vtest_mp4, messages
):
    from edgecloud.worker.main import Stopped

    aws, _ = mocked_aws
    worker = None

    class Interrupted:
        name = "interrupted"

        def detect(self, frames):
            worker.on_signal()  # first SIGTERM: finish the job...
            worker.on_signal()  # ...second (a kill is next): hand it back now
            raise AssertionError("not reached")

    job = enqueue(vtest_mp4)
    worker = make_worker(detector=Interrupted())
    with pytest.raises(Stopped):
        worker.process_batch()
    assert not worker.holding
    assert [json.loads(b)["clip_id"] for b in messages("jobs")] == [job.clip_id]  # visible again at once
    assert aws.s3.list_objects_v2(Bucket=settings.storage.results_bucket)["KeyCount"] == 0


def test_reports_its_state_for_the_autoscaler(make_worker, mocked_aws, settings, instance_id):
    """Booting until the first poll (no item), then polling, busy while it holds a job, retiring."""
    from edgecloud.retirement import IdleTimeout
    from edgecloud.workers import WorkerStates

    aws, queues = mocked_aws
    table = WorkerStates(aws, settings.tables.workers)
    worker = make_worker(instance_id=instance_id, policy=IdleTimeout(0))
    assert instance_id not in table.reported()  # booting: it has not polled yet
    seen = []
    report = worker.states.report
    worker.states.report = lambda worker_id, state: seen.append(state) or report(worker_id, state)
    worker.process_batch()
    assert seen == ["polling"] and table.reported()[instance_id] == "polling"
    aws.sqs.send_message(QueueUrl=queues.jobs, MessageBody='{"not": "a job"}')
    worker.process_batch()
    assert seen == ["polling", "polling", "busy"] and table.reported()[instance_id] == "busy"
    assert worker.run() == "retired"
    assert seen[-1] == "retiring" and table.reported()[instance_id] == "retiring"
    assert aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"][
        "Name"
    ] in ("shutting-down", "terminated")
