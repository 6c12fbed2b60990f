"""The HTTP API through Flask's test client, on in-process moto, with real footage."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from edgecloud.clock import utcnow
from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.keys import clip_key, result_key
from edgecloud.protocol.messages import Job, Result


def meta(clip_id=None, device="pi-01", **extra):
    m = {"device_id": device, "recorded_at": "2026-11-24T11:35:00+00:00", "fps": 10.0, "content_type": "video/mp4"}
    if clip_id:
        m["clip_id"] = clip_id
    m.update(extra)
    return m


def edge_result(clip_id, **extra):
    return Result(
        clip_id=clip_id,
        processed_by="edge",
        detector="hog",
        labels="person",
        frames_total=50,
        frames_analysed=10,
        timings={"total": 1.5},
        finished_at=utcnow(),
        **extra,
    )


def test_healthz(client):
    assert client.get("/healthz").get_json() == {"ok": True}


def test_upload_without_result_stores_clip_and_queues_a_job(
    client, post_clip, mocked_aws, settings, vtest_mp4, jobs_in_queue
):
    aws, _ = mocked_aws
    clip_id = new_clip_id("pi-01")
    reply = post_clip(vtest_mp4, meta(clip_id))
    assert reply.status_code == 201, reply.get_json()
    body = reply.get_json()
    assert body["clip_id"] == clip_id and body["status"] == "queued" and body["duplicate"] is False
    assert body["status_url"].endswith(f"/v1/clips/{clip_id}")

    key = clip_key(clip_id, "mp4")
    head = aws.s3.head_object(Bucket=settings.storage.clips_bucket, Key=key)
    assert head["ContentLength"] == vtest_mp4.stat().st_size
    assert head["ContentType"] == "video/mp4"
    assert head["Metadata"]["device-id"] == "pi-01" and head["Metadata"]["fps"] == "10"
    assert head["Metadata"]["recorded-at"].startswith("2026-11-24T11:35:00")

    jobs = [Job.model_validate(j) for j in jobs_in_queue()]
    assert len(jobs) == 1
    assert (jobs[0].clip_id, jobs[0].key, jobs[0].bucket, jobs[0].fps) == (
        clip_id,
        key,
        settings.storage.clips_bucket,
        10.0,
    )
    status = client.get(f"/v1/clips/{clip_id}").get_json()
    assert status["status"] == "queued" and status["result"] is None and status["device_id"] == "pi-01"


def test_upload_without_clip_id_gets_one_made_for_the_device(post_clip, vtest_mp4, jobs_in_queue):
    reply = post_clip(vtest_mp4, meta())
    assert reply.status_code == 201
    assert "_pi-01_" in reply.get_json()["clip_id"]
    assert [j["clip_id"] for j in jobs_in_queue()] == [reply.get_json()["clip_id"]]


def test_upload_with_edge_result_is_done_and_queues_nothing(
    client, post_clip, mocked_aws, settings, vtest_mp4, jobs_in_queue
):
    aws, _ = mocked_aws
    clip_id = new_clip_id("pi-01")
    reply = post_clip(vtest_mp4, meta(clip_id), result=edge_result(clip_id))
    assert reply.status_code == 201 and reply.get_json()["status"] == "done"
    stored = Result.model_validate_json(
        aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=result_key(clip_id))["Body"].read()
    )
    assert stored.labels == "person" and stored.submitted_at is not None
    assert jobs_in_queue() == []
    status = client.get(f"/v1/clips/{clip_id}").get_json()
    assert status["status"] == "done" and status["processed_by"] == "edge"
    assert status["result"]["labels"] == "person"


def test_reupload_is_idempotent(client, post_clip, vtest_mp4, jobs_in_queue, mocked_aws, settings):
    aws, _ = mocked_aws
    clip_id = new_clip_id("pi-01")
    first = post_clip(vtest_mp4, meta(clip_id))
    second = post_clip(vtest_mp4, meta(clip_id))
    assert first.status_code == second.status_code == 201
    assert (first.get_json()["duplicate"], second.get_json()["duplicate"]) == (False, True)
    assert len(jobs_in_queue()) == 1
    listed = aws.s3.list_objects_v2(Bucket=settings.storage.clips_bucket)["KeyCount"]
    assert listed == 1


def test_reupload_after_ledger_loss_is_still_a_duplicate(app, post_clip, vtest_mp4, jobs_in_queue, settings, tmp_path):
    from edgecloud.controller.ledger import Ledger

    clip_id = new_clip_id("pi-01")
    assert post_clip(vtest_mp4, meta(clip_id)).get_json()["duplicate"] is False
    resources(app).attach(ledger=Ledger(tmp_path / "fresh.sqlite3"))  # a controller with a new disk
    again = post_clip(vtest_mp4, meta(clip_id))
    assert again.status_code == 201 and again.get_json()["duplicate"] is True
    # Stored once; with no ledger to say its job went, the job goes again (results are first-write-wins).
    assert [j["clip_id"] for j in jobs_in_queue()] == [clip_id, clip_id]
    assert aws_keys(app) == 1


def aws_keys(app) -> int:
    store = resources(app).store
    return store.aws.s3.list_objects_v2(Bucket=store.clips_bucket)["KeyCount"]


GOOD_ID = "20261124T113500123Z_pi-01_3fa9c2d1"


@pytest.mark.parametrize(
    "case, status, fragment",
    [
        ("no file", 400, "missing file field 'clip'"),
        ("no metadata", 400, "missing form field 'metadata'"),
        ("metadata not json", 400, "not valid JSON"),
        ("bad clip id", 400, "not a clip id"),
        ("path in clip id", 400, "not a clip id"),
        ("device mismatch", 400, "belongs to device 'pi-01'"),
        ("bad device id", 400, "device_id"),
        ("fps out of range", 400, "fps"),
        ("wrong content type", 415, "content type"),
        ("empty clip", 400, "empty"),
        ("result not json", 400, "form field 'result' is not valid JSON"),
        ("result not a result", 400, "bad result"),
        ("result for another clip", 400, "result is for clip"),
        ("result without clip id", 400, "metadata.clip_id"),
    ],
)
def test_bad_uploads_are_refused_clearly(client, post_clip, vtest_mp4, jobs_in_queue, case, status, fragment):
    clip = vtest_mp4
    metadata, result, mimetype = meta(GOOD_ID), None, "video/mp4"
    if case == "no file":
        reply = client.post(
            "/v1/clips", data={"metadata": '{"device_id": "pi-01"}'}, content_type="multipart/form-data"
        )
    else:
        if case == "no metadata":
            metadata = ""
        elif case == "metadata not json":
            metadata = "{device_id: pi-01"
        elif case == "bad clip id":
            metadata = meta("not-a-clip")
        elif case == "path in clip id":
            metadata = meta("../../etc/passwd")
        elif case == "device mismatch":
            metadata = meta(GOOD_ID, device="pi-02")
        elif case == "bad device id":
            metadata = meta(device="Pi 01!")
        elif case == "fps out of range":
            metadata = meta(GOOD_ID, fps=-3)
        elif case == "wrong content type":
            metadata, mimetype = meta(GOOD_ID, content_type=None), "image/gif"
        elif case == "empty clip":
            clip = b""
        elif case == "result not json":
            result = "{nope"
        elif case == "result not a result":
            result = '{"clip_id": "x"}'
        elif case == "result for another clip":
            result = edge_result("20261124T113500123Z_pi-01_00000000")
        elif case == "result without clip id":
            metadata, result = meta(), edge_result(GOOD_ID)
        reply = post_clip(clip, metadata, result=result, mimetype=mimetype)
    assert reply.status_code == status, reply.get_json()
    assert fragment in reply.get_json()["error"]
    assert jobs_in_queue() == []


def test_too_big_clip_is_refused_with_413(settings, mocked_aws, vtest_mp4, jobs_in_queue, device_token):
    from edgecloud.controller.app import create_app

    aws, queues = mocked_aws
    settings.controller.max_clip_mb = 0.05  # vtest-5s.mp4 is larger than 50 KiB
    app = create_app(settings, {"TESTING": True})
    resources(app).attach(aws=aws, queues=queues)
    with open(vtest_mp4, "rb") as f:
        reply = app.test_client().post(
            "/v1/clips",
            content_type="multipart/form-data",
            data={"clip": (f, "clip.mp4", "video/mp4"), "metadata": '{"device_id": "pi-01"}'},
            headers={"Authorization": f"Bearer {device_token}"},
        )
    assert reply.status_code == 413
    assert "limit" in reply.get_json()["error"]
    assert jobs_in_queue() == []


@pytest.mark.parametrize(
    "path, status",
    [
        (f"/v1/clips/{GOOD_ID}", 404),
        ("/v1/clips/nonsense", 400),
        (f"/v1/clips/{GOOD_ID}?wait=soon", 400),
        (f"/v1/clips/{GOOD_ID}?wait=-1", 400),
    ],
)
def test_status_errors(client, path, status):
    reply = client.get(path)
    assert reply.status_code == status
    assert reply.get_json()["error"]


def test_status_falls_back_to_the_result_in_s3(operator_client, app):
    clip_id = new_clip_id("pi-03")
    resources(app).store.results.put(edge_result(clip_id, submitted_at=utcnow() - timedelta(seconds=4)))
    status = operator_client.get(f"/v1/clips/{clip_id}").get_json()
    assert status["status"] == "done" and status["device_id"] == "pi-03"
    assert status["upload_to_result_s"] >= 4 and status["result"]["clip_id"] == clip_id


def test_wait_returns_once_the_clip_is_done(settings, client, post_clip, app, vtest_mp4):
    clip_id = new_clip_id("pi-01")
    post_clip(vtest_mp4, meta(clip_id))
    ledger, store = resources(app).ledger, resources(app).store
    ledger.recheck_s = 3600  # only the completion's notify may wake the held request
    settings.controller.max_wait_s = 3600
    answers = []
    request = threading.Thread(
        target=lambda: answers.append(client.get(f"/v1/clips/{clip_id}?wait=3600").get_json()), daemon=True
    )
    request.start()
    assert ledger.wait_for_waiters(1, timeout=10)
    store.results.put(edge_result(clip_id).model_copy(update={"processed_by": "i-0123"}))
    ledger.mark_finished(clip_id, "done", utcnow(), processed_by="i-0123", process_s=1.0)
    request.join(10)
    assert not request.is_alive(), "the held request was not woken by the completion"
    assert answers[0]["status"] == "done" and answers[0]["processed_by"] == "i-0123"
    assert answers[0]["result"]["labels"] == "person"


def test_wait_is_capped_and_answers_with_the_current_state(settings, mocked_aws, post_clip, client, vtest_mp4):
    settings.controller.max_wait_s = 0.2
    clip_id = new_clip_id("pi-01")
    post_clip(vtest_mp4, meta(clip_id))
    status = client.get(f"/v1/clips/{clip_id}?wait=3600").get_json()
    assert status["status"] == "queued"


def test_stats_report_medians_queue_and_workers(client, post_clip, app, vtest_mp4, mocked_aws, settings):
    aws, _ = mocked_aws
    ledger = resources(app).ledger
    assert client.get("/v1/stats").get_json()["upload_to_result_s"] is None
    for n, (latency, process) in enumerate([(10, 2), (20, 4), (30, 6)]):
        clip_id = new_clip_id("pi-01")
        submitted = utcnow() - timedelta(seconds=latency)
        ledger.add(clip_id, "pi-01", "queued", submitted)
        ledger.mark_finished(
            clip_id, "done", submitted + timedelta(seconds=latency), processed_by=f"i-{n}", process_s=process
        )
    edge_id = new_clip_id("pi-01")
    post_clip(vtest_mp4, meta(edge_id), result=edge_result(edge_id))  # edge clips are not cloud latency
    post_clip(vtest_mp4, meta(new_clip_id("pi-01")))
    ami = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    aws.ec2.run_instances(
        ImageId=ami,
        MinCount=2,
        MaxCount=2,
        TagSpecifications=[
            {
                "ResourceType": "instance",
                "Tags": [
                    {"Key": "edgecloud:fleet", "Value": settings.fleet.name},
                    {"Key": "edgecloud:role", "Value": "worker"},
                ],
            }
        ],
    )

    stats = client.get("/v1/stats").get_json()
    assert stats["upload_to_result_s"] == 20 and stats["process_s"] == 4
    assert stats["queue"] == {"visible": 1, "in_flight": 0}
    assert stats["workers"]["pending"] + stats["workers"]["running"] == 2


def test_metrics_count_uploads(operator_client, post_clip, vtest_mp4):
    clip_id = new_clip_id("pi-01")
    post_clip(vtest_mp4, meta(clip_id))
    post_clip(vtest_mp4, meta(clip_id))
    text = operator_client.get("/metrics").get_data(as_text=True)
    assert 'edgecloud_uploads_total{outcome="queued"} 1.0' in text
    assert 'edgecloud_uploads_total{outcome="duplicate"} 1.0' in text
    assert 'edgecloud_clips{status="queued"} 1.0' in text
