"""Intake refuses a clip over the video limits from its headers (422 with the reason), before
anything is stored: no S3 object, no job, no ledger row."""

from __future__ import annotations

import pytest

from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id

from .test_hostile_input import nothing_stored


@pytest.mark.parametrize(
    "limit, value, why",
    [
        ("max_pixels", 768 * 576 - 1, "768x576 frames are over limits.max_pixels"),
        ("max_frames", 40, "50 frames are over limits.max_frames 40"),
        ("max_duration_s", 4, "5.0 s of video is over limits.max_duration_s 4"),
    ],
)
def test_a_clip_over_a_limit_is_a_422_and_nothing_is_stored(
    app, post_clip, vtest_mp4, mocked_aws, settings, jobs_in_queue, limit, value, why
):
    setattr(settings.limits, limit, value)
    clip_id = new_clip_id("pi-01")

    reply = post_clip(vtest_mp4, {"device_id": "pi-01", "clip_id": clip_id})

    assert reply.status_code == 422
    assert reply.get_json()["error"].startswith("clip refused: " + why)
    assert nothing_stored(mocked_aws, settings, jobs_in_queue)
    assert resources(app).ledger.get(clip_id) is None


def test_a_raw_streams_frames_are_counted_at_the_rate_the_edge_gives(
    post_clip, vtest_h264, settings, mocked_aws, jobs_in_queue
):
    settings.limits.max_duration_s = 4
    meta = {"device_id": "pi-01", "content_type": "video/h264"}

    slow = post_clip(vtest_h264, {**meta, "fps": 10}, mimetype="video/h264")  # 50 frames: 5 s at 10 fps
    assert slow.status_code == 422 and "5.0 s of video is over limits.max_duration_s 4" in slow.get_json()["error"]
    assert nothing_stored(mocked_aws, settings, jobs_in_queue)

    assert post_clip(vtest_h264, {**meta, "fps": 25}, mimetype="video/h264").status_code == 201  # 2 s


def test_a_clip_whose_headers_cannot_be_read_is_a_422(post_clip, vtest_mp4, mocked_aws, settings, jobs_in_queue):
    truncated = vtest_mp4.read_bytes()[:2000]  # an MP4's first box, and then nothing

    reply = post_clip(truncated, {"device_id": "pi-01"})

    assert reply.status_code == 422 and "headers are unreadable" in reply.get_json()["error"]
    assert nothing_stored(mocked_aws, settings, jobs_in_queue)


def test_a_clip_within_the_limits_is_stored(post_clip, vtest_mp4, settings, jobs_in_queue):
    settings.limits.max_pixels, settings.limits.max_frames, settings.limits.max_duration_s = 768 * 576, 50, 5

    reply = post_clip(vtest_mp4, {"device_id": "pi-01"})

    assert reply.status_code == 201 and len(jobs_in_queue()) == 1
