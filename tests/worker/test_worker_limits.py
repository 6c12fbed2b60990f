"""A worker holds each clip to the video limits: one over them fails before it is decoded, and one
whose analysis runs past limits.clip_budget_s ends failed, its heartbeat stops, and the worker
takes the next job."""

from __future__ import annotations

import functools
import json
import threading

import edgecloud.pipeline as pipeline
from edgecloud.limits import Guard


def completions(messages) -> list[str]:
    return [json.loads(body)["event"] for body in messages("completions")]


def in_flight(aws, queues) -> int:
    attributes = aws.sqs.get_queue_attributes(QueueUrl=queues.jobs, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_a_clip_over_a_limit_fails_before_it_is_decoded(
    make_worker, enqueue, stored_result, mocked_aws, settings, vtest_mp4, decoders_opened, messages
):
    aws, queues = mocked_aws
    settings.limits.max_frames = 40
    job = enqueue(vtest_mp4)

    assert make_worker(detector=_Never()).process_batch().failed == 1

    result = stored_result(aws, settings, job.clip_id)
    assert result.status == "failed" and result.error == "50 frames are over limits.max_frames 40"
    assert decoders_opened == []
    assert completions(messages) == ["started", "failed"] and in_flight(aws, queues) == 0


class _Never:
    name = "never"

    def detect(self, images):
        raise AssertionError("an over-limit clip reached the detector")


def test_a_clip_past_its_budget_fails_its_heartbeat_stops_and_the_next_job_runs(
    make_worker, enqueue, stored_result, mocked_aws, settings, vtest_mp4, monkeypatch, messages
):
    aws, queues = mocked_aws
    settings.worker.heartbeat_seconds = 0.05
    now = [0.0]  # the guard's clock: the detector moves it past the budget once the job's heartbeat has beaten
    monkeypatch.setattr(pipeline, "Guard", functools.partial(Guard, clock=lambda: now[0]))
    beaten = threading.Event()
    beats = []
    aws.sqs.meta.events.register(
        "before-parameter-build.sqs.ChangeMessageVisibility",
        lambda params, **kw: (beats.append(params["ReceiptHandle"]), beaten.set()),
    )

    class StuckDetector:
        name = "stuck"
        calls = 0

        def detect(self, images):
            StuckDetector.calls += 1
            if StuckDetector.calls == 1:  # the first clip's first batch takes "forever"
                assert beaten.wait(10), "no heartbeat while the job was in hand"
                now[0] += settings.limits.clip_budget_s + 1
            return [[] for _ in images]

    stuck, next_job = enqueue(vtest_mp4), enqueue(vtest_mp4)
    worker = make_worker(detector=StuckDetector())

    assert worker.process_batch().failed == 1
    result = stored_result(aws, settings, stuck.clip_id)
    assert result.status == "failed"
    assert result.error == "analysis ran past limits.clip_budget_s (300 s) at frame 35"  # the 8th sampled frame
    assert not [t for t in threading.enumerate() if t.name == "heartbeat"]  # stopped with the job
    beaten_before = len(beats)

    assert worker.process_batch().done == 1
    assert stored_result(aws, settings, next_job.clip_id).status == "done"
    assert completions(messages) == ["started", "failed", "started", "done"] and in_flight(aws, queues) == 0
    assert beats[0] not in beats[beaten_before:]  # the failed job's visibility was never extended again
