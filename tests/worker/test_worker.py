"""The worker, one batch at a time, on in-process moto with real footage."""
from __future__ import annotations

import itertools
import json
import threading

import pytest

from edgecloud.jobs import Completion, Result, result_key
from edgecloud.worker.heartbeat import Heartbeat
from edgecloud.worker.lifecycle import Ec2Lifecycle, Unmanaged
from edgecloud.worker.main import Worker


@pytest.fixture
def make_worker(settings, mocked_aws):
    aws, queues = mocked_aws
    settings.worker.wait_seconds = 0

    def make(**kwargs) -> Worker:
        return Worker(settings, aws, queues=queues, **kwargs)

    return make


def stored_result(aws, settings, clip_id) -> Result:
    body = aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=result_key(clip_id))["Body"].read()
    return Result.model_validate_json(body)


def completions(messages) -> list[Completion]:
    return [Completion.model_validate_json(b) for b in messages("completions")]


def test_processes_a_real_clip_end_to_end(make_worker, enqueue, mocked_aws, settings, vtest_mp4, instance_id,
                                          messages):
    aws, _ = mocked_aws
    job = enqueue(vtest_mp4)
    worker = make_worker(instance_id=instance_id)
    counts = worker.process_batch()
    assert (counts.received, counts.done, counts.failed) == (1, 1, 0)

    result = stored_result(aws, settings, job.clip_id)
    assert result.status == "done" and result.processed_by == instance_id
    assert result.frames_total == 50 and result.frames_analysed > 0
    assert "person" in result.labels.split(",")  # vtest shows pedestrians throughout
    assert result.timings["download"] >= 0 and result.submitted_at == job.submitted_at
    events = completions(messages)
    assert [c.event for c in events] == ["started", "done"]
    assert events[1].result_key == result_key(job.clip_id) and events[1].process_s > 0
    assert messages("jobs") == []  # deleted
    assert worker.tasks_done == 1


def test_raw_h264_uses_the_jobs_fps(make_worker, enqueue, mocked_aws, settings, vtest_h264):
    aws, _ = mocked_aws
    job = enqueue(vtest_h264, content_type="video/h264", fps=10)
    assert make_worker().process_batch().done == 1
    assert stored_result(aws, settings, job.clip_id).frames_total == 50


def test_double_delivery_keeps_the_first_result(make_worker, enqueue, mocked_aws, settings, vtest_mp4, messages):
    aws, queues = mocked_aws
    job = enqueue(vtest_mp4)
    aws.sqs.send_message(QueueUrl=queues.jobs, MessageBody=job.model_dump_json())  # at-least-once: twice
    worker = make_worker(instance_id="i-first")
    first = worker.process_batch()
    before = aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=result_key(job.clip_id))
    second = worker.process_batch()
    after = aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=result_key(job.clip_id))
    assert (first.done, second.duplicate) == (1, 1)
    assert after["ETag"] == before["ETag"] and after["Body"].read() == before["Body"].read()
    assert [c.event for c in completions(messages)] == ["started", "done", "done"]
    assert messages("jobs") == []


def test_concurrent_writers_cannot_replace_a_result(make_worker, mocked_aws, settings):
    aws, _ = mocked_aws
    worker = make_worker()
    clip_id = "20261124T113500123Z_pi-01_3fa9c2d1"
    first = worker.results.put_first(Result(clip_id=clip_id, processed_by="i-a", detector="hog", labels="person"))
    second = worker.results.put_first(Result(clip_id=clip_id, processed_by="i-b", detector="hog", labels="car"))
    assert first.processed_by == second.processed_by == "i-a"
    assert stored_result(aws, settings, clip_id).labels == "person"
    # The write itself is conditional: a racer that looked before the first write landed still loses.
    assert worker.results.put_if_new(Result(clip_id=clip_id, processed_by="i-c", detector="hog")) is False


@pytest.mark.parametrize("case, error", [
    ("missing clip", "not found"),
    ("corrupt clip", ""),
])
def test_unprocessable_clips_end_with_a_failed_result(make_worker, enqueue, mocked_aws, settings, messages,
                                                      case, error):
    aws, _ = mocked_aws
    if case == "missing clip":
        job = enqueue(b"", upload=False)
    else:
        job = enqueue(b"\x00\x00\x01 this is not a video" * 100)
    counts = make_worker().process_batch()
    assert counts.failed == 1
    result = stored_result(aws, settings, job.clip_id)
    assert result.status == "failed" and error in result.error and result.error
    assert [c.event for c in completions(messages)] == ["started", "failed"]
    assert messages("jobs") == []


def test_malformed_jobs_are_reported_or_dropped(make_worker, mocked_aws, settings, messages):
    aws, queues = mocked_aws
    clip_id = "20261124T113500123Z_pi-01_3fa9c2d1"
    aws.sqs.send_message(QueueUrl=queues.jobs, MessageBody=json.dumps({"clip_id": clip_id, "bucket": 3}))
    aws.sqs.send_message(QueueUrl=queues.jobs, MessageBody="garbage")
    worker = make_worker()
    total = worker.process_batch().malformed + worker.process_batch().malformed
    assert total == 2
    result = stored_result(aws, settings, clip_id)
    assert result.status == "failed" and result.error.startswith("malformed job message")
    assert [c.event for c in completions(messages)] == ["failed"]
    assert messages("jobs") == []


def test_a_detector_crash_returns_the_job_to_the_queue(make_worker, enqueue, mocked_aws, settings, vtest_mp4,
                                                       messages):
    aws, queues = mocked_aws

    class Broken:
        name = "broken"

        def detect(self, frames):
            raise RuntimeError("CUDA out of memory")

    job = enqueue(vtest_mp4)
    held_for = []
    aws.sqs.meta.events.register("before-parameter-build.sqs.ChangeMessageVisibility",
                                 lambda params, **kw: held_for.append(params["VisibilityTimeout"]))
    counts = make_worker(detector=Broken()).process_batch()
    assert counts.errors == 1
    attrs = aws.sqs.get_queue_attributes(QueueUrl=queues.jobs, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"  # not deleted
    assert held_for[-1] == 10  # held back briefly (10 s on a first try), not for the whole visibility timeout
    assert aws.s3.list_objects_v2(Bucket=settings.storage.results_bucket)["KeyCount"] == 0
    assert job.clip_id in [c.clip_id for c in completions(messages)]


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
    assert isinstance(worker.lifecycle, Ec2Lifecycle)
    assert worker.run() == "retired"
    state = aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] in {"shutting-down", "terminated"}


def test_retire_false_just_exits(make_worker, mocked_aws, settings, instance_id):
    aws, _ = mocked_aws
    settings.worker.idle_timeout = 2
    settings.worker.retire = False
    ticks = itertools.count()
    worker = make_worker(instance_id=instance_id, clock=lambda: float(next(ticks)))
    assert isinstance(worker.lifecycle, Unmanaged)
    assert worker.run() == "retired"
    state = aws.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["State"]
    assert state["Name"] == "running"


def test_busy_worker_does_not_retire_while_work_keeps_coming(make_worker, enqueue, mocked_aws, settings,
                                                             vtest_mp4, instance_id):
    settings.worker.idle_timeout = 3  # shorter than 5 jobs take at one clock tick per look
    for _ in range(5):
        enqueue(vtest_mp4)
    ticks = itertools.count()
    worker = make_worker(instance_id=instance_id, clock=lambda: float(next(ticks)))
    assert worker.run() == "retired"
    assert worker.tasks_done == 5


def visibility_of(aws, queue_url, message):
    """What the worker hands its heartbeat: set this message's visibility, in seconds from now."""
    return lambda seconds: aws.sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=seconds)


def test_heartbeat_extends_visibility(mocked_aws, settings, enqueue, vtest_mp4):
    aws, queues = mocked_aws
    enqueue(vtest_mp4)
    message = aws.sqs.receive_message(QueueUrl=queues.jobs, VisibilityTimeout=1)["Messages"][0]
    seen = []
    aws.sqs.meta.events.register("before-parameter-build.sqs.ChangeMessageVisibility",
                                 lambda params, **kw: seen.append(params["VisibilityTimeout"]))
    beaten = threading.Event()
    heartbeat = Heartbeat(visibility_of(aws, queues.jobs, message), every=0.05, extend_to=300,
                          on_beat=lambda n: n >= 2 and beaten.set())
    with heartbeat:
        assert beaten.wait(10)
    assert heartbeat.beats >= 2 and set(seen) == {300}


def test_a_working_worker_extends_its_own_jobs_visibility(make_worker, enqueue, mocked_aws, settings, vtest_mp4):
    aws, queues = mocked_aws
    settings.worker.heartbeat_seconds = 0.05
    beats = []
    beaten = threading.Event()

    def on_visibility(params, **kw):
        beats.append((params["ReceiptHandle"], params["VisibilityTimeout"]))
        beaten.set()

    aws.sqs.meta.events.register("before-parameter-build.sqs.ChangeMessageVisibility", on_visibility)

    class SlowDetector:  # holds the job until the worker's own heartbeat has extended it
        name = "slow"

        def detect(self, frames):
            assert beaten.wait(10), "no heartbeat while the job was in hand"
            return [[] for _ in frames]

    job = enqueue(vtest_mp4)
    receipts = []
    aws.sqs.meta.events.register("after-call.sqs.ReceiveMessage",
                                 lambda parsed, **kw: receipts.extend(m["ReceiptHandle"]
                                                                      for m in parsed.get("Messages", [])))
    assert make_worker(detector=SlowDetector()).process_batch().done == 1
    assert beats and all(b == (receipts[0], settings.queues.visibility_timeout) for b in beats)
    assert stored_result(aws, settings, job.clip_id).status == "done"


@pytest.mark.slow
def test_heartbeat_keeps_the_job_hidden_past_its_first_timeout(mocked_aws, enqueue, vtest_mp4):
    import time

    aws, queues = mocked_aws
    enqueue(vtest_mp4)
    message = aws.sqs.receive_message(QueueUrl=queues.jobs, VisibilityTimeout=1)["Messages"][0]
    Heartbeat(visibility_of(aws, queues.jobs, message), every=60, extend_to=60).beat()
    time.sleep(1.5)  # the behaviour under test is the passing of SQS's own clock
    assert not aws.sqs.receive_message(QueueUrl=queues.jobs, WaitTimeSeconds=0).get("Messages")


def test_an_unreadable_result_is_replaced(make_worker, mocked_aws, settings):
    aws, _ = mocked_aws
    clip_id = "20261124T113500123Z_pi-01_3fa9c2d1"
    aws.s3.put_object(Bucket=settings.storage.results_bucket, Key=result_key(clip_id), Body=b"{truncated")
    stored = make_worker().results.put_first(Result(clip_id=clip_id, processed_by="i-a", detector="hog", labels="person"))
    assert stored.labels == "person" and stored_result(aws, settings, clip_id).labels == "person"


def test_an_asg_worker_leaves_through_its_group(make_worker, settings):
    from edgecloud.worker.lifecycle import AsgLifecycle

    settings.fleet.backend = "asg"
    settings.fleet.asg_name = "edgecloud-workers"
    lifecycle = make_worker(instance_id="i-0abc").lifecycle
    assert isinstance(lifecycle, AsgLifecycle) and lifecycle.group_name == "edgecloud-workers"
    assert isinstance(make_worker().lifecycle, Unmanaged)  # off EC2: nothing to terminate


def test_a_stop_signal_as_a_poll_returns_hands_the_job_back(make_worker, enqueue, mocked_aws, vtest_mp4,
                                                            messages):
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


def test_heartbeat_beats_within_the_visibility_timeout_whatever_the_config(make_worker, enqueue, settings,
                                                                          vtest_mp4, monkeypatch):
    import edgecloud.worker.main as worker_main

    settings.worker.heartbeat_seconds = 600  # longer than the 120 s a received job stays hidden
    made = []

    class RecordingHeartbeat(Heartbeat):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(worker_main, "Heartbeat", RecordingHeartbeat)
    enqueue(vtest_mp4)
    assert make_worker().process_batch().done == 1
    assert made and made[0].every < settings.queues.visibility_timeout == made[0].extend_to


def test_a_job_that_crashes_every_try_ends_failed_with_the_reason(make_worker, enqueue, mocked_aws, settings,
                                                                  vtest_mp4, messages):
    aws, _ = mocked_aws

    class Broken:
        name = "broken"

        def detect(self, frames):
            raise RuntimeError("CUDA out of memory")

    job = enqueue(vtest_mp4)
    worker = make_worker(detector=Broken())
    # Held back for no time, so each try comes round at once.
    worker._set_visibility = lambda message, seconds: Worker._set_visibility(worker, message, 0)
    outcomes = [worker.process_batch() for _ in range(settings.queues.max_receive)]
    assert [(c.errors, c.failed) for c in outcomes] == [(1, 0)] * (settings.queues.max_receive - 1) + [(0, 1)]
    result = stored_result(aws, settings, job.clip_id)
    assert result.status == "failed" and "CUDA out of memory" in result.error
    assert completions(messages)[-1].event == "failed"
    assert messages("jobs") == [] and messages("dead_letter") == []


def test_a_refused_retirement_keeps_the_worker_serving(make_worker, settings):
    from botocore.exceptions import ClientError

    from edgecloud.worker.lifecycle import Lifecycle

    class RefusedOnce(Lifecycle):
        calls = 0

        def retire(self):
            self.calls += 1
            if self.calls == 1:  # e.g. an Auto Scaling group already at its minimum size
                raise ClientError({"Error": {"Code": "ValidationError", "Message": "below min size"}},
                                  "TerminateInstanceInAutoScalingGroup")

    settings.worker.idle_timeout = 2
    lifecycle = RefusedOnce()
    ticks = itertools.count()
    worker = make_worker(lifecycle=lifecycle, clock=lambda: float(next(ticks)))
    assert worker.run() == "retired"
    assert lifecycle.calls == 2


def test_a_second_stop_signal_hands_the_job_in_hand_back(make_worker, enqueue, mocked_aws, settings, vtest_mp4,
                                                         messages):
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
