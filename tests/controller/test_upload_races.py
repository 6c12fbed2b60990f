"""An upload is "stored" only once it is: a retry overlapping the first upload hears 409,
and a controller killed between storing a clip and sending its job sends it on restart."""

from __future__ import annotations

import io
import json
import threading
from datetime import timedelta

from botocore.exceptions import ClientError

from edgecloud.clock import utcnow
from edgecloud.controller.reconcile import ABANDONED_AFTER_S
from edgecloud.controller.resources import resources
from edgecloud.controller.service import ControllerService
from edgecloud.protocol.ids import new_clip_id


def meta(clip_id):
    return {"device_id": "pi-01", "clip_id": clip_id, "fps": 10.0, "content_type": "video/mp4"}


def post(client, clip: bytes, clip_id: str):
    return client.post(
        "/v1/clips",
        content_type="multipart/form-data",
        data={"clip": (io.BytesIO(clip), "clip.mp4", "video/mp4"), "metadata": json.dumps(meta(clip_id))},
    )


def clip_keys(aws, settings) -> int:
    return aws.s3.list_objects_v2(Bucket=settings.storage.clips_bucket)["KeyCount"]


def test_a_retry_during_a_slow_first_upload_is_not_told_stored(
    device_client_of, app, vtest_mp4, jobs_in_queue, mocked_aws, settings
):
    aws, _ = mocked_aws
    store = resources(app).store
    clip, clip_id = vtest_mp4.read_bytes(), new_clip_id("pi-01")
    storing, fail_now = threading.Event(), threading.Event()
    real_put = store.put_clip

    def slow_then_failing_put(*args, **kwargs):
        storing.set()
        fail_now.wait(10)
        raise ClientError({"Error": {"Code": "InternalError", "Message": "connection reset"}}, "PutObject")

    store.put_clip = slow_then_failing_put
    first: dict = {}
    uploading = threading.Thread(target=lambda: first.setdefault("reply", post(device_client_of(app), clip, clip_id)))
    uploading.start()
    assert storing.wait(10)
    retry = post(device_client_of(app), clip, clip_id)
    assert retry.status_code == 409, retry.get_json()  # not "201 duplicate": the edge would delete its copy
    assert retry.headers["Retry-After"] == "1"
    fail_now.set()
    uploading.join(10)
    assert first["reply"].status_code == 503
    store.put_clip = real_put
    again = post(device_client_of(app), clip, clip_id)
    assert again.status_code == 201 and again.get_json()["duplicate"] is False
    assert clip_keys(aws, settings) == 1 and [j["clip_id"] for j in jobs_in_queue()] == [clip_id]


class Killed(BaseException):
    """The process dies here: no except or finally of ours runs on (kill -9)."""


def killed(job):
    raise Killed()


def upload_to_a_controller_killed_before_the_job(settings, aws, client_of, clip: bytes, clip_id: str) -> None:
    """A controller stores the clip, then dies before sending its job: its row stays 'storing'."""
    dying = ControllerService(settings, aws=aws, autoscale=False)
    dying.store.send_job = killed
    try:
        post(client_of(dying.app), clip, clip_id)
    except Killed:
        pass
    dying.close()


def test_a_controller_killed_before_sending_the_job_sends_it_on_restart(
    device_client_of, settings, mocked_aws, vtest_mp4, jobs_in_queue
):
    aws, _ = mocked_aws
    clip, clip_id = vtest_mp4.read_bytes(), new_clip_id("pi-01")
    upload_to_a_controller_killed_before_the_job(settings, aws, device_client_of, clip, clip_id)
    assert clip_keys(aws, settings) == 1 and jobs_in_queue() == []

    with ControllerService(settings, aws=aws, autoscale=False) as restarted:
        assert restarted.stranded.done.wait(10)
        assert [j["clip_id"] for j in jobs_in_queue()] == [clip_id]
        retry = post(device_client_of(restarted.app), clip, clip_id)  # the edge never heard 201
        assert retry.status_code == 201 and retry.get_json() | {"status_url": None} == {
            "clip_id": clip_id,
            "status": "queued",
            "duplicate": True,
            "status_url": None,
        }
    assert jobs_in_queue() == []  # not sent a third time


def test_with_a_shared_ledger_only_an_abandoned_upload_is_requeued(
    device_client_of, settings, mocked_aws, vtest_mp4, jobs_in_queue
):
    settings.controller.ledger = "dynamodb"  # both controllers on one clips table
    aws, _ = mocked_aws
    clip, clip_id = vtest_mp4.read_bytes(), new_clip_id("pi-01")
    upload_to_a_controller_killed_before_the_job(settings, aws, device_client_of, clip, clip_id)
    with ControllerService(settings, aws=aws, autoscale=False) as other:
        # Just now 'storing' may be a live upload on another controller: left alone...
        assert other.stranded.done.wait(10) and other.stranded.requeued == 0
        assert jobs_in_queue() == [] and other.ledger.get(clip_id).status == "storing"
        # ...until it has been storing longer than any live upload takes.
        other.stranded.clock = lambda: utcnow() + timedelta(seconds=ABANDONED_AFTER_S + 1)
        assert other.stranded.sweep() == 1
        assert [j["clip_id"] for j in jobs_in_queue()] == [clip_id] and other.ledger.get(clip_id).status == "queued"
