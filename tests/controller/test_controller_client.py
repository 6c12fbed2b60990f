"""``ControllerClient`` against the real controller app (served in a thread, on in-process moto)."""

from __future__ import annotations

import threading

import pytest

from edgecloud.clock import utcnow
from edgecloud.controller.resources import resources
from edgecloud.protocol.client import ControllerClient
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.messages import Result

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 100


@pytest.fixture
def pi(served, device_token):
    with ControllerClient(served, token=device_token) as client:
        yield client


def _meta(clip_id, **extra) -> dict:
    return {"clip_id": clip_id, "device_id": "pi-01", "content_type": "video/mp4", "fps": 10.0, **extra}


def test_a_clip_uploaded_is_queued_and_its_status_read_back(pi, vtest_mp4):
    clip_id = new_clip_id("pi-01")
    with vtest_mp4.open("rb") as fh:
        reply = pi.upload(_meta(clip_id), (f"{clip_id}.mp4", fh, "video/mp4"))
    assert reply.status_code == 201 and reply.json()["clip_id"] == clip_id
    assert pi.status(clip_id).json()["status"] == "queued"
    assert pi.status_body(clip_id)["status"] == "queued"
    assert pi.status(new_clip_id("pi-01")).status_code == 404
    assert pi.status_body(new_clip_id("pi-01"))["http"] == 404


def test_the_pis_result_and_snapshot_travel_with_the_clip(pi, vtest_mp4):
    clip_id = new_clip_id("pi-01")
    result = Result(clip_id=clip_id, processed_by="edge", detector="hog", labels="person", finished_at=utcnow())
    with vtest_mp4.open("rb") as fh:
        reply = pi.upload(
            _meta(clip_id), ("clip.mp4", fh, "video/mp4"), result=result.model_dump(mode="json"), snapshot=JPEG
        )
    assert reply.status_code == 201, reply.text
    body = pi.status(clip_id, wait=5).json()
    assert body["status"] == "done" and body["result"]["labels"] == "person"
    assert body["result"]["snapshot_key"].endswith(f"{clip_id}.jpg")


def test_a_record_without_its_video_goes_as_multipart_fields_alone(pi):
    clip_id = new_clip_id("pi-01")
    reply = pi.upload(_meta(clip_id, video_dropped=True))
    assert reply.status_code == 201, reply.text
    assert pi.status(clip_id).json()["status"] == "dropped"


def test_a_status_wait_is_held_until_the_clip_ends(pi, controller_app, vtest_mp4):
    clip_id = new_clip_id("pi-01")
    with vtest_mp4.open("rb") as fh:
        assert pi.upload(_meta(clip_id), ("clip.mp4", fh, "video/mp4")).status_code == 201
    answers = []
    poll = threading.Thread(target=lambda: answers.append(pi.status_body(clip_id, wait=20)))
    poll.start()
    ledger = resources(controller_app).ledger
    # The poll is held (not answered at once) until the clip ends: end it, and the answer comes.
    poll.join(0.5)
    assert poll.is_alive()
    ledger.mark_finished(clip_id, "failed", utcnow(), processed_by="i-test", error="boom")
    poll.join(10)
    assert answers and answers[0]["status"] == "failed"


@pytest.mark.parametrize("wait", ["inf", "nan", "-1", "soon"])
def test_clips_and_frames_parse_wait_by_one_rule(pi, wait):
    # A wait no client of ours sends: asked of both long polls by hand, each answers the same 400.
    by_clips = pi.session.get(f"{pi.url}/v1/clips/{new_clip_id('pi-01')}", params={"wait": wait}, timeout=10)
    by_frames = pi.session.get(f"{pi.url}/v1/frames/answers", params={"device_id": "pi-01", "wait": wait}, timeout=10)
    assert by_clips.status_code == by_frames.status_code == 400
    assert by_clips.json()["error"] == by_frames.json()["error"]


def test_a_frame_upload_and_its_answers(pi):
    grant = pi.frame_upload("pi-01")
    assert grant.status_code == 200 and grant.json()["key"].endswith(f"{grant.json()['frame_id']}.jpg")
    answers = pi.frame_answers("pi-01", wait=0)
    assert answers.status_code == 200 and answers.json()["answers"] == []
    assert pi.frame_upload("pi-02").status_code == 403  # not its own device
