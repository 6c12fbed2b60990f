"""The worker's jobs, one batch at a time, on in-process moto with real footage: results, failures, retries."""

from __future__ import annotations

import json

import pytest

from edgecloud.protocol.keys import result_key
from edgecloud.protocol.messages import Completion, Result
from edgecloud.worker.main import Worker


def completions(messages) -> list[Completion]:
    return [Completion.model_validate_json(b) for b in messages("completions")]


def test_processes_a_real_clip_end_to_end(
    stored_result, make_worker, enqueue, mocked_aws, settings, vtest_mp4, instance_id, messages
):
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


def test_the_stored_result_carries_the_objects_in_the_devices_zones(
    stored_result, make_worker, enqueue, mocked_aws, settings, vtest_mp4
):
    aws, _ = mocked_aws
    halves = {"left": [(0, 0), (0.5, 0), (0.5, 1), (0, 1)], "right": [(0.5, 0), (1, 0), (1, 1), (0.5, 1)]}
    settings.zones.devices = {"pi-01": halves, "pi-02": {"anywhere": [(0, 0), (1, 0), (1, 1), (0, 1)]}}
    job = enqueue(vtest_mp4)  # from pi-01
    assert make_worker().process_batch().done == 1

    result = stored_result(aws, settings, job.clip_id)
    people = [o for o in result.objects if o.label == "person"]
    assert people and result.summary["person"].unique == len(people)
    assert len(people) < sum(d.label == "person" for d in result.detections)  # each walker once, not per frame
    assert set().union(*(o.zones for o in people)) == {"left", "right"}  # pi-01's zones, not pi-02's


def test_raw_h264_uses_the_jobs_fps(stored_result, make_worker, enqueue, mocked_aws, settings, vtest_h264):
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


def test_concurrent_writers_cannot_replace_a_result(stored_result, make_worker, mocked_aws, settings):
    aws, _ = mocked_aws
    worker = make_worker()
    clip_id = "20261124T113500123Z_pi-01_3fa9c2d1"
    first = worker.results.put_first(Result(clip_id=clip_id, processed_by="i-a", detector="hog", labels="person"))
    second = worker.results.put_first(Result(clip_id=clip_id, processed_by="i-b", detector="hog", labels="car"))
    assert first.processed_by == second.processed_by == "i-a"
    assert stored_result(aws, settings, clip_id).labels == "person"
    # The write itself is conditional: a racer that looked before the first write landed still loses.
    assert worker.results.put_if_new(Result(clip_id=clip_id, processed_by="i-c", detector="hog")) is False


@pytest.mark.parametrize(
    "case, error",
    [
        ("missing clip", "not found"),
        ("corrupt clip", ""),
    ],
)
def test_unprocessable_clips_end_with_a_failed_result(
    stored_result, make_worker, enqueue, mocked_aws, settings, messages, case, error
):
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


def test_malformed_jobs_are_reported_or_dropped(stored_result, make_worker, mocked_aws, settings, messages):
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


def test_a_detector_crash_returns_the_job_to_the_queue(make_worker, enqueue, mocked_aws, settings, vtest_mp4, messages):
    aws, queues = mocked_aws

    class Broken:
        name = "broken"

        def detect(self, frames):
            raise RuntimeError("CUDA out of memory")

    job = enqueue(vtest_mp4)
    held_for = []
    aws.sqs.meta.events.register(
        "before-parameter-build.sqs.ChangeMessageVisibility",
        lambda params, **kw: held_for.append(params["VisibilityTimeout"]),
    )
    counts = make_worker(detector=Broken()).process_batch()
    assert counts.errors == 1
    attrs = aws.sqs.get_queue_attributes(QueueUrl=queues.jobs, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"  # not deleted
    assert held_for[-1] == 10  # held back briefly (10 s on a first try), not for the whole visibility timeout
    assert aws.s3.list_objects_v2(Bucket=settings.storage.results_bucket)["KeyCount"] == 0
    assert job.clip_id in [c.clip_id for c in completions(messages)]


def test_an_unreadable_result_is_replaced(stored_result, make_worker, mocked_aws, settings):
    aws, _ = mocked_aws
    clip_id = "20261124T113500123Z_pi-01_3fa9c2d1"
    aws.s3.put_object(Bucket=settings.storage.results_bucket, Key=result_key(clip_id), Body=b"{truncated")
    stored = make_worker().results.put_first(
        Result(clip_id=clip_id, processed_by="i-a", detector="hog", labels="person")
    )
    assert stored.labels == "person" and stored_result(aws, settings, clip_id).labels == "person"


def test_a_job_that_crashes_every_try_ends_failed_with_the_reason(
    stored_result, make_worker, enqueue, mocked_aws, settings, vtest_mp4, messages
):
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
