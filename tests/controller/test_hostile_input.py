"""Input that is not what it says: hostile ids never reach a key or a path (400), and a clip
must be the container it claims before anything is stored (415 with the reason)."""
from __future__ import annotations

from urllib.parse import quote

import pytest

from edgecloud.jobs import new_clip_id

GOOD = "20261124T113500123Z_pi-01_3fa9c2d1"
HOSTILE_CLIP_IDS = {
    "dot-dot": "../../../etc/passwd",
    "dot-dot inside": f"{GOOD[:20]}../{GOOD[20:]}",
    "nul": GOOD + "\x00",
    "trailing newline": GOOD + "\n",
    "4 KB": GOOD + "a" * 4096,
    "cyrillic p": GOOD.replace("pi-01", "\u0440i-01"),
    "fullwidth digit": "\uff12" + GOOD[1:],
    "arabic-indic digits": "\u0662\u0660\u0662\u0666" + GOOD[4:],
    "dotless i": GOOD.replace("pi-01", "p\u0131-01"),
}
HOSTILE_DEVICE_IDS = {
    "dot-dot": "../pi-01", "nul": "pi-01\x00", "trailing newline": "pi-01\n", "4 KB": "p" * 4096,
    "cyrillic p": "\u0440i-01", "fullwidth": "\uff50i-01", "slash": "pi/01",
}


def nothing_stored(mocked_aws, settings, jobs_in_queue):
    aws, _ = mocked_aws
    return (aws.s3.list_objects_v2(Bucket=settings.storage.clips_bucket)["KeyCount"] == 0
            and jobs_in_queue() == [])


@pytest.mark.parametrize("name", HOSTILE_CLIP_IDS)
def test_a_hostile_clip_id_in_a_status_url_is_a_400(client, name):
    reply = client.get("/v1/clips/" + quote(HOSTILE_CLIP_IDS[name], safe="/"))
    assert reply.status_code == 400 and "not a clip id" in reply.get_json()["error"]


@pytest.mark.parametrize("name", HOSTILE_CLIP_IDS)
def test_a_hostile_clip_id_in_an_upload_is_a_400(post_clip, vtest_mp4, mocked_aws, settings, jobs_in_queue, name):
    reply = post_clip(vtest_mp4, {"device_id": "pi-01", "clip_id": HOSTILE_CLIP_IDS[name]})
    assert reply.status_code == 400 and "not a clip id" in reply.get_json()["error"]
    assert len(reply.get_json()["error"]) < 200  # a 4 KB id is not echoed back whole
    assert nothing_stored(mocked_aws, settings, jobs_in_queue)


@pytest.mark.parametrize("name", HOSTILE_DEVICE_IDS)
def test_a_hostile_device_id_is_a_400(post_clip, vtest_mp4, mocked_aws, settings, jobs_in_queue, name):
    reply = post_clip(vtest_mp4, {"device_id": HOSTILE_DEVICE_IDS[name]})
    assert reply.status_code == 400 and "device_id" in reply.get_json()["error"]
    assert len(reply.get_json()["error"]) < 300
    assert nothing_stored(mocked_aws, settings, jobs_in_queue)


@pytest.mark.parametrize("footage, claimed", [
    ("vtest_avi", "video/mp4"), ("vtest_mp4", "video/h264"), ("vtest_h264", "video/x-msvideo"),
    (b"<html>not a video</html>", "video/mp4"), (b"\x00\x00", "video/h264"),
])
def test_a_clip_that_is_not_the_container_it_claims_is_a_415(request, post_clip, mocked_aws, settings,
                                                             jobs_in_queue, footage, claimed):
    clip = request.getfixturevalue(footage) if isinstance(footage, str) else footage
    reply = post_clip(clip, {"device_id": "pi-01", "clip_id": new_clip_id("pi-01"), "content_type": claimed},
                      mimetype=claimed)
    assert reply.status_code == 415
    assert reply.get_json()["error"].startswith(f"the clip is not {claimed}: expected ")
    assert nothing_stored(mocked_aws, settings, jobs_in_queue)


@pytest.mark.parametrize("footage, claimed", [
    ("vtest_avi", "video/x-msvideo"), ("vtest_mp4", "video/mp4"), ("vtest_h264", "video/h264"),
])
def test_each_real_container_is_taken_as_what_it_is(request, post_clip, footage, claimed):
    reply = post_clip(request.getfixturevalue(footage), {"device_id": "pi-01", "content_type": claimed},
                      mimetype=claimed)
    assert reply.status_code == 201, reply.get_json()
