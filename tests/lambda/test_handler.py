"""The Lambda handler in process, on moto S3/SQS and real footage: the same
processor, results and completions as an EC2 worker, and partial batch failures."""

from __future__ import annotations

import json

import pytest

from edgecloud.protocol.messages import Result
from edgecloud.result_store import ResultStore
from edgecloud.worker.job_runner import NotReady
from edgecloud.worker.lambda_handler import Environment, handle_jobs

from .conftest import UNREACHABLE, completions, make_context, sqs_event


def test_a_clip_is_processed_as_a_worker_would(settings, mocked_aws, job_for, vtest_mp4):
    aws, queues = mocked_aws
    job = job_for(vtest_mp4)
    context = make_context()

    reply = handle_jobs(Environment(settings), sqs_event(job.model_dump_json())["Records"], context)

    assert reply == {"batchItemFailures": []}
    result = ResultStore(aws.s3, settings.storage.results_bucket).get(job.clip_id)
    assert result.status == "done" and "person" in result.labels
    assert result.processed_by == f"lambda:{context.aws_request_id}"
    people = [o for o in result.objects if o.label == "person"]  # tracked as a worker tracks them
    assert people and result.summary["person"].unique == len(people) and all(o.frames >= 2 for o in people)
    assert [(c["event"], c["processed_by"]) for c in completions(aws, queues)] == [
        ("started", result.processed_by),
        ("done", result.processed_by),
    ]


def test_only_the_failing_record_is_reported(settings, mocked_aws, job_for, vtest_mp4):
    aws, queues = mocked_aws
    good, broken = job_for(vtest_mp4), job_for(None, bucket=UNREACHABLE)  # S3 refuses the call: worth a retry
    event = sqs_event(good.model_dump_json(), broken.model_dump_json())

    reply = handle_jobs(Environment(settings), event["Records"], make_context())

    assert reply == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    store = ResultStore(aws.s3, settings.storage.results_bucket)
    assert store.get(good.clip_id).status == "done"
    assert store.get(broken.clip_id) is None  # retried by SQS, not ended


def test_the_last_try_ends_the_job_with_its_reason(settings, mocked_aws, job_for):
    aws, queues = mocked_aws
    broken = job_for(None, bucket=UNREACHABLE)
    event = sqs_event(broken.model_dump_json(), receive_count=settings.queues.max_receive)

    reply = handle_jobs(Environment(settings), event["Records"], make_context())

    assert reply == {"batchItemFailures": []}  # ended here: the event source deletes it
    result = ResultStore(aws.s3, settings.storage.results_bucket).get(broken.clip_id)
    assert result.status == "failed" and "Invalid bucket name" in result.error
    assert completions(aws, queues)[-1]["event"] == "failed"


def test_a_duplicate_is_answered_from_the_stored_result(settings, mocked_aws, job_for, vtest_mp4):
    aws, queues = mocked_aws
    job = job_for(vtest_mp4)
    env = Environment(settings)
    handle_jobs(env, sqs_event(job.model_dump_json())["Records"], make_context())
    first = aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=_key(job.clip_id))["Body"].read()
    completions(aws, queues)

    handle_jobs(env, sqs_event(job.model_dump_json(), receive_count=2)["Records"], make_context())

    again = aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=_key(job.clip_id))["Body"].read()
    assert again == first
    assert [c["event"] for c in completions(aws, queues)] == ["done"]  # no second "started"


def test_records_left_without_time_go_back_untouched(settings, mocked_aws, job_for, vtest_mp4):
    aws, _ = mocked_aws
    job = job_for(vtest_mp4)
    event = sqs_event(job.model_dump_json())

    reply = handle_jobs(Environment(settings), event["Records"], make_context(timeout_s=1))

    assert reply == {"batchItemFailures": [{"itemIdentifier": event["Records"][0]["messageId"]}]}
    assert ResultStore(aws.s3, settings.storage.results_bucket).get(job.clip_id) is None


def test_a_malformed_job_is_ended_not_retried(settings, mocked_aws):
    aws, _ = mocked_aws
    body = json.dumps({"clip_id": "20260101T000000000Z_pi-01_0badf00d", "bucket": "b"})

    reply = handle_jobs(Environment(settings), sqs_event(body)["Records"], make_context())

    assert reply == {"batchItemFailures": []}
    result = ResultStore(aws.s3, settings.storage.results_bucket).get("20260101T000000000Z_pi-01_0badf00d")
    assert isinstance(result, Result) and result.status == "failed" and "malformed" in result.error


def _key(clip_id: str) -> str:
    from edgecloud.protocol.keys import result_key

    return result_key(clip_id)


def test_a_function_that_cannot_load_its_detector_fails_before_any_record(
    settings, mocked_aws, job_for, vtest_mp4, tmp_path
):
    aws, queues = mocked_aws
    settings.detector.weights = tmp_path / "missing" / "yolov3-tiny.weights"
    job = job_for(vtest_mp4)
    event = sqs_event(job.model_dump_json(), receive_count=settings.queues.max_receive)  # even on its last try

    with pytest.raises(NotReady, match="cannot load"):  # the invocation fails: the event source deletes nothing
        handle_jobs(Environment(settings), event["Records"], make_context())

    assert ResultStore(aws.s3, settings.storage.results_bucket).get(job.clip_id) is None  # not ended 'failed'
    assert completions(aws, queues) == []  # not even 'started'


def test_a_function_that_cannot_load_its_detector_shows_in_stats_as_not_ready(
    settings, mocked_aws, job_for, operator_client, tmp_path
):
    settings.detector.weights = missing = tmp_path / "missing" / "yolov3-tiny.weights"
    settings.function.name = "edgecloud-test-worker"
    env = Environment(settings)
    event = sqs_event(job_for(None).model_dump_json())

    for _ in range(2):  # a warm environment tries again at each invocation
        with pytest.raises(NotReady):
            handle_jobs(env, event["Records"], make_context())

    [shown] = operator_client.get("/v1/stats").get_json()["not_ready"]
    assert shown["worker_id"] == "lambda:edgecloud-test-worker"
    assert "cannot load" in shown["reason"] and str(missing) in shown["reason"]


@pytest.mark.parametrize("pyav", [True, False], ids=["pyav", "zip without pyav"])
def test_the_function_refuses_a_clip_over_a_limit_before_decoding_it(
    settings, mocked_aws, job_for, vtest_mp4, decoders_opened, monkeypatch, pyav
):
    import edgecloud.limits

    aws, queues = mocked_aws
    if not pyav:  # the function's zip: OpenCV reports the headers once it has opened the clip
        monkeypatch.setattr(edgecloud.limits, "av", None)
    settings.limits.max_pixels = 640 * 480  # vtest-5s.mp4 is 768x576
    job = job_for(vtest_mp4)

    reply = handle_jobs(Environment(settings), sqs_event(job.model_dump_json())["Records"], make_context())

    assert reply == {"batchItemFailures": []}  # final: the event source deletes it, no retry
    result = ResultStore(aws.s3, settings.storage.results_bucket).get(job.clip_id)
    assert result.status == "failed" and result.error == "768x576 frames are over limits.max_pixels 307200 pixels"
    assert result.frames_total == 0 and decoders_opened == ([] if pyav else [f"{job.clip_id}.mp4"])
    assert completions(aws, queues)[-1]["event"] == "failed"
