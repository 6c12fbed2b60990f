"""Uploads and status that survive half-done work: a failed queue send, a lost ledger,
a missed completion, and client input that disagrees with itself."""

from __future__ import annotations

import json
import re

from botocore.exceptions import ClientError

from edgecloud.clock import utcnow
from edgecloud.controller.ledger import Ledger
from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.messages import Result


def meta(clip_id, **extra):
    return {"device_id": "pi-01", "clip_id": clip_id, "fps": 10.0, "content_type": "video/mp4", **extra}


def test_a_failed_job_send_leaves_nothing_behind_so_the_retry_queues_the_job(
    app, post_clip, vtest_mp4, jobs_in_queue, mocked_aws, settings
):
    aws, _ = mocked_aws
    store = resources(app).store
    clip_id = new_clip_id("pi-01")
    real_send = store.send_job

    def sqs_down(job):
        raise ClientError({"Error": {"Code": "ServiceUnavailable", "Message": "down"}}, "SendMessage")

    store.send_job = sqs_down
    assert post_clip(vtest_mp4, meta(clip_id)).status_code == 503
    assert aws.s3.list_objects_v2(Bucket=settings.storage.clips_bucket)["KeyCount"] == 0
    store.send_job = real_send
    retry = post_clip(vtest_mp4, meta(clip_id))
    assert retry.status_code == 201 and retry.get_json()["status"] == "queued"
    assert [j["clip_id"] for j in jobs_in_queue()] == [clip_id]


def test_status_of_a_queued_clip_survives_a_lost_ledger(
    app, client, post_clip, vtest_mp4, tmp_path, mocked_aws, settings
):
    clip_id = new_clip_id("pi-01")
    assert post_clip(vtest_mp4, meta(clip_id)).status_code == 201
    fresh = Ledger(tmp_path / "fresh.sqlite3")
    resources(app).attach(ledger=fresh)  # a controller restarted on a new disk
    reply = client.get(f"/v1/clips/{clip_id}")
    assert reply.status_code == 200, reply.get_json()
    assert reply.get_json()["status"] == "queued"
    # Followed again: the worker's completion now finds the clip in the ledger.
    assert fresh.mark_finished(clip_id, "done", utcnow(), processed_by="i-1")


def test_status_reads_a_result_in_s3_the_ledger_missed(app, client, post_clip, vtest_mp4):
    clip_id = new_clip_id("pi-01")
    post_clip(vtest_mp4, meta(clip_id))
    resources(app).store.results.put(
        Result(clip_id=clip_id, processed_by="i-9", detector="hog", labels="person", finished_at=utcnow())
    )  # its completion never reached this ledger
    status = client.get(f"/v1/clips/{clip_id}").get_json()
    assert status["status"] == "done" and status["processed_by"] == "i-9"
    assert status["result"]["labels"] == "person"
    assert resources(app).ledger.get(clip_id).status == "done"


def test_edge_result_with_zoneless_times_never_breaks_status(app, client, post_clip, vtest_mp4, tmp_path):
    clip_id = new_clip_id("pi-01")
    result = json.dumps(
        {
            "clip_id": clip_id,
            "processed_by": "edge",
            "detector": "hog",
            "finished_at": "2026-11-24T11:35:02",
            "submitted_at": "2026-11-24T11:35:00",
        }
    )
    assert post_clip(vtest_mp4, meta(clip_id), result=result).status_code == 201
    resources(app).attach(ledger=Ledger(tmp_path / "fresh.sqlite3"))  # status now comes from S3 alone
    reply = client.get(f"/v1/clips/{clip_id}")
    assert reply.status_code == 200, reply.get_data(as_text=True)
    assert reply.get_json()["upload_to_result_s"] == 2.0
    assert reply.get_json()["result"]["finished_at"].endswith(("Z", "+00:00"))  # stored with its zone


def test_metadata_and_clip_part_disagreeing_on_type_is_refused(post_clip, vtest_mp4, jobs_in_queue):
    reply = post_clip(vtest_mp4, meta(new_clip_id("pi-01"), content_type="video/h264"), mimetype="video/mp4")
    assert reply.status_code == 415 and "mismatch" in reply.get_json()["error"]
    assert jobs_in_queue() == []
    # A generic part type defers to the metadata.
    ok = post_clip(vtest_mp4, meta(new_clip_id("pi-01")), mimetype="application/octet-stream")
    assert ok.status_code == 201


def test_a_result_with_nan_is_refused_not_stored_unreadable(client, post_clip, vtest_mp4, jobs_in_queue):
    clip_id = new_clip_id("pi-01")
    result = (
        f'{{"clip_id": "{clip_id}", "processed_by": "edge", "detector": "hog", "summary": {{"person": '
        '{"max_count": 1, "frames_seen": 1, "best_score": NaN}}}'
    )
    reply = post_clip(vtest_mp4, meta(clip_id), result=result)
    assert reply.status_code == 400 and "not valid JSON" in reply.get_json()["error"]
    assert client.get(f"/v1/clips/{clip_id}").status_code == 404  # nothing half-stored


def test_wait_on_a_clip_known_only_to_s3_wakes_when_it_finishes(app, client, post_clip, vtest_mp4, tmp_path):
    import threading

    clip_id = new_clip_id("pi-01")
    post_clip(vtest_mp4, meta(clip_id))
    fresh = Ledger(tmp_path / "fresh.sqlite3")
    fresh.recheck_s = 3600  # only the completion's notify may wake the held request
    resources(app).attach(ledger=fresh)
    app.extensions["edgecloud"].settings.controller.max_wait_s = 3600
    answers = []
    request = threading.Thread(
        target=lambda: answers.append(client.get(f"/v1/clips/{clip_id}?wait=3600").get_json()), daemon=True
    )
    request.start()
    assert fresh.wait_for_waiters(1, timeout=10)  # adopted from S3, and now held
    fresh.mark_finished(clip_id, "done", utcnow(), processed_by="i-2")
    request.join(10)
    assert not request.is_alive(), "the held request was not woken by the completion"
    assert answers[0]["status"] == "done" and answers[0]["processed_by"] == "i-2"


def test_a_ledger_failing_after_the_job_went_out_keeps_the_clip_under_its_job(
    app, post_clip, vtest_mp4, jobs_in_queue, mocked_aws, settings
):
    """The job is sent, then the ledger's write fails (a shared ledger is a network call): undoing the
    upload then would delete the clip from under its job. The clip stays, its job is queued once."""
    aws, _ = mocked_aws
    ledger = resources(app).ledger
    clip_id = new_clip_id("pi-01")

    def ledger_down(clip_id):
        raise ClientError({"Error": {"Code": "InternalServerError", "Message": "down"}}, "UpdateItem")

    ledger.mark_queued = ledger_down
    reply = post_clip(vtest_mp4, meta(clip_id))
    assert reply.status_code == 201 and reply.get_json()["status"] == "queued"
    assert aws.s3.list_objects_v2(Bucket=settings.storage.clips_bucket)["KeyCount"] == 1
    assert [j["clip_id"] for j in jobs_in_queue()] == [clip_id]
    assert ledger.get(clip_id).status == "storing"  # the sweep of stranded uploads moves it on


def test_an_aws_failure_is_a_503_that_keeps_aws_text_in_the_log(post_clip, vtest_mp4, mocked_aws, settings, caplog):
    aws, _ = mocked_aws
    aws.s3.delete_bucket(Bucket=settings.storage.clips_bucket)  # an operator's mistake: AWS names the bucket
    reply = post_clip(vtest_mp4, meta(new_clip_id("pi-01")))
    assert reply.status_code == 503
    error = reply.get_json()["error"]
    assert settings.storage.clips_bucket not in error and "NoSuchBucket" not in error and "PutObject" not in error
    incident = re.fullmatch(r"storage unavailable; try again later \(incident ([0-9a-f]{12})\)", error)[1]
    (logged,) = [r.getMessage() for r in caplog.records if incident in r.getMessage()]
    assert "NoSuchBucket" in logged  # what the operator needs is in the log, under the id the client was told
