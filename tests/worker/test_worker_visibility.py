"""The worker keeps the job in hand hidden from other workers: the visibility heartbeat."""

from __future__ import annotations

import threading

import pytest

from edgecloud.worker.heartbeat import Heartbeat


def visibility_of(aws, queue_url, message):
    """What the worker hands its heartbeat: set this message's visibility, in seconds from now."""
    return lambda seconds: aws.sqs.change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=seconds
    )


def test_heartbeat_extends_visibility(mocked_aws, settings, enqueue, vtest_mp4):
    aws, queues = mocked_aws
    enqueue(vtest_mp4)
    message = aws.sqs.receive_message(QueueUrl=queues.jobs, VisibilityTimeout=1)["Messages"][0]
    seen = []
    aws.sqs.meta.events.register(
        "before-parameter-build.sqs.ChangeMessageVisibility",
        lambda params, **kw: seen.append(params["VisibilityTimeout"]),
    )
    beaten = threading.Event()
    heartbeat = Heartbeat(
        visibility_of(aws, queues.jobs, message), every=0.05, extend_to=300, on_beat=lambda n: n >= 2 and beaten.set()
    )
    with heartbeat:
        assert beaten.wait(10)
    assert heartbeat.beats >= 2 and set(seen) == {300}


def test_a_working_worker_extends_its_own_jobs_visibility(
    stored_result, make_worker, enqueue, mocked_aws, settings, vtest_mp4
):
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
    aws.sqs.meta.events.register(
        "after-call.sqs.ReceiveMessage",
        lambda parsed, **kw: receipts.extend(m["ReceiptHandle"] for m in parsed.get("Messages", [])),
    )
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


def test_heartbeat_beats_within_the_visibility_timeout_whatever_the_config(
    make_worker, enqueue, settings, vtest_mp4, monkeypatch
):
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
