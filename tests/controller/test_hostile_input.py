"""Input that is not what it says: hostile ids never reach a key or a path (400), a number must be
finite (400), and a clip must be the container it claims before anything is stored (415 with the reason)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.keys import result_key
from edgecloud.protocol.messages import Result

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
    # The form of a time, but no time that exists.
    "month 13": "20261399T999999999Z_pi-01_3fa9c2d1",
    "30 February": "20260230T120000000Z_pi-01_3fa9c2d1",
    "second 60": "20261124T235960000Z_pi-01_3fa9c2d1",
    "year 0": "00000101T000000000Z_pi-01_3fa9c2d1",
}
HOSTILE_DEVICE_IDS = {
    "dot-dot": "../pi-01",
    "nul": "pi-01\x00",
    "trailing newline": "pi-01\n",
    "4 KB": "p" * 4096,
    "cyrillic p": "\u0440i-01",
    "fullwidth": "\uff50i-01",
    "slash": "pi/01",
}


def nothing_stored(mocked_aws, settings, jobs_in_queue):
    aws, _ = mocked_aws
    return aws.s3.list_objects_v2(Bucket=settings.storage.clips_bucket)["KeyCount"] == 0 and jobs_in_queue() == []


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


@pytest.mark.parametrize(
    "footage, claimed",
    [
        ("vtest_avi", "video/mp4"),
        ("vtest_mp4", "video/h264"),
        ("vtest_h264", "video/x-msvideo"),
        (b"<html>not a video</html>", "video/mp4"),
        (b"\x00\x00", "video/h264"),
    ],
)
def test_a_clip_that_is_not_the_container_it_claims_is_a_415(
    request, post_clip, mocked_aws, settings, jobs_in_queue, footage, claimed
):
    clip = request.getfixturevalue(footage) if isinstance(footage, str) else footage
    reply = post_clip(
        clip, {"device_id": "pi-01", "clip_id": new_clip_id("pi-01"), "content_type": claimed}, mimetype=claimed
    )
    assert reply.status_code == 415
    assert reply.get_json()["error"].startswith(f"the clip is not {claimed}: expected ")
    assert nothing_stored(mocked_aws, settings, jobs_in_queue)


@pytest.mark.parametrize(
    "footage, claimed",
    [
        ("vtest_avi", "video/x-msvideo"),
        ("vtest_mp4", "video/mp4"),
        ("vtest_h264", "video/h264"),
    ],
)
def test_each_real_container_is_taken_as_what_it_is(request, post_clip, footage, claimed):
    reply = post_clip(
        request.getfixturevalue(footage), {"device_id": "pi-01", "content_type": claimed}, mimetype=claimed
    )
    assert reply.status_code == 201, reply.get_json()


def _strict_json(data: bytes):
    """JSON as the standard has it: Python's json reads NaN and Infinity, which no other client takes."""

    def refuse(constant):
        raise ValueError(f"{constant} in the reply")

    return json.loads(data, parse_constant=refuse)


def _edge_result(clip_id: str, **fields) -> dict:
    return {"clip_id": clip_id, "processed_by": "edge", "detector": "hog", **fields}


DETECTION = {"t": 0.5, "frame": 5, "label": "person", "score": 0.9, "box": [1, 2, 3, 4]}
NON_FINITE = {  # raw JSON text, each in a different place
    "1e400 in the timings": ("result", '{"total": 1e400}', "timings"),
    "-1e400 in a detection's box": (
        "result",
        json.dumps([{**DETECTION, "box": [1, 2, 3, "X"]}]).replace('"X"', "-1e400"),
        "detections",
    ),
    "a 400-digit time": ("result", json.dumps([{**DETECTION, "t": "X"}]).replace('"X"', "1" + "0" * 400), "detections"),
    "NaN in a score": ("result", json.dumps([{**DETECTION, "score": "X"}]).replace('"X"', "NaN"), "detections"),
    "1e400 as fps": ("metadata", "1e400", "fps"),
    "Infinity in a field the controller ignores": ("metadata", "Infinity", "extra"),
    "1e999 in a field the controller ignores": ("metadata", "1e999", "extra"),
}


@pytest.mark.parametrize("name", NON_FINITE)
def test_a_number_that_is_not_finite_is_a_400_with_the_reason(
    post_clip, vtest_mp4, mocked_aws, settings, jobs_in_queue, name
):
    field, number, where = NON_FINITE[name]
    clip_id = new_clip_id("pi-01")
    metadata = json.dumps({"clip_id": clip_id, "device_id": "pi-01"})
    result = json.dumps(_edge_result(clip_id))
    if field == "metadata":
        metadata = metadata[:-1] + f', "{where}": {number}}}'
    else:
        result = result[:-1] + f', "{where}": {number}}}'
    reply = post_clip(vtest_mp4, metadata, result)
    assert reply.status_code == 400, reply.get_json()
    error = reply.get_json()["error"]
    assert field in error and ("finite number" in error or "not a JSON number" in error)
    assert len(error) < 200  # a 400-digit number is not echoed back whole
    assert nothing_stored(mocked_aws, settings, jobs_in_queue)


def test_a_stored_result_with_a_non_finite_number_never_reaches_a_reader(
    app, client, post_clip, vtest_mp4, mocked_aws, settings
):
    """A result written before the check (or by another writer) with 1e400 in it is ignored, not served as
    Infinity (which no JSON parser but Python's reads); a worker's result may then replace it."""
    aws, _ = mocked_aws
    clip_id = new_clip_id("pi-01")
    assert post_clip(vtest_mp4, {"clip_id": clip_id, "device_id": "pi-01"}).status_code == 201
    poisoned = json.dumps(_edge_result(clip_id, timings={"total": "X"})).replace('"X"', "1e400")
    aws.s3.put_object(Bucket=settings.storage.results_bucket, Key=result_key(clip_id), Body=poisoned.encode())

    reply = client.get(f"/v1/clips/{clip_id}")
    assert reply.status_code == 200 and _strict_json(reply.data)["status"] == "queued"
    good = Result(clip_id=clip_id, processed_by="i-1", detector="hog", timings={"total": 1.5})
    assert resources(app).store.results.put_first(good) == good  # the worker's result takes its place
    assert _strict_json(client.get(f"/v1/clips/{clip_id}").data)["result"]["timings"] == {"total": 1.5}
