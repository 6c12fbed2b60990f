"""The dashboard through Flask's test client on in-process moto: login, pages, links, revoke.
(The real browser tests are in tests/integration/test_dashboard_browser.py.)"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import cv2
import numpy as np
import pytest

from edgecloud.clock import utcnow
from edgecloud.controller.dashboard.auth import make_login_link
from edgecloud.controller.dashboard.zones import picture_size
from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.keys import snapshot_key
from edgecloud.protocol.messages import LabelSummary, Result


@pytest.fixture
def registry(app):
    return resources(app).registry  # the app's own: revoking here clears its cache at once


@pytest.fixture
def operator(registry):
    return registry.add("operator", "alice")


def _login(client, token):
    return client.post("/login", data={"token": token, "next": "/fleet"})


def _post_with_snapshot(client, clip, clip_id, result, snapshot: bytes):
    return client.post(
        "/v1/clips",
        content_type="multipart/form-data",
        data={
            "clip": (io.BytesIO(clip.read_bytes()), "c.mp4", "video/mp4"),
            "metadata": json.dumps({"clip_id": clip_id, "device_id": "pi-01", "fps": 10}),
            **({"result": result.model_dump_json()} if result else {}),
            "snapshot": (io.BytesIO(snapshot), "snapshot.jpg", "image/jpeg"),
        },
    )


def _edge_clip(post_clip, vtest_mp4, device="pi-01"):
    clip_id = new_clip_id(device)
    result = Result(
        clip_id=clip_id,
        processed_by="edge",
        detector="hog",
        labels="person",
        summary={"person": LabelSummary(max_count=2, frames_seen=3, best_score=0.9)},
    )
    return clip_id, post_clip(vtest_mp4, {"clip_id": clip_id, "device_id": device, "fps": 10}, result)


def test_every_page_needs_a_login_and_a_wrong_token_gets_none(client, operator):
    for path in (
        "/events",
        "/clips",
        "/fleet",
        "/devices",
        "/clips/20260101T000000000Z_pi-01_00000000",
        "/events/ev_20260101T000000000Z_pi-01_00000000",
        "/devices/pi-01",
    ):
        reply = client.get(path)
        assert reply.status_code == 302 and reply.location.startswith("/login?next="), path
    assert client.get("/fragments/clips").status_code == 401 and client.get("/fragments/events").status_code == 401
    assert _login(client, "eco_not-a-token").status_code == 401
    assert client.get("/events").status_code == 302


def test_a_device_token_is_not_an_operator_login(client, registry):
    assert _login(client, registry.add("device", "pi-09")).status_code == 401


def test_login_sets_a_hardened_cookie_without_the_token_and_revoking_logs_out(client, operator, registry):
    reply = _login(client, operator)
    assert reply.status_code == 302 and reply.location == "/fleet"
    cookie = reply.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert operator not in cookie and operator[4:20] not in cookie
    assert client.get("/fleet").status_code == 200
    registry.revoke("operator", "alice")
    assert client.get("/fleet").status_code == 302


def test_next_never_leaves_the_site(client, operator):
    reply = client.post("/login", data={"token": operator, "next": "//evil.example/"})
    assert reply.location == "/events"


def test_a_login_link_works_once_and_carries_no_token(app, client, operator):
    res = resources(app)
    link = make_login_link(res.settings, res.aws, "http://localhost", operator)
    assert operator not in link
    path = link.removeprefix("http://localhost")
    assert client.get(path).status_code == 302
    assert client.get("/events").status_code == 200
    other = app.test_client()
    assert other.get(path).status_code == 401  # used already
    assert other.get(path[:-3] + "abc").status_code == 401  # forged


def test_an_edge_clip_shows_with_labels_snapshot_and_links(client, post_clip, vtest_mp4, operator, mocked_aws):
    jpeg = b"\xff\xd8\xff\xe0" + b"0" * 100
    clip_id = new_clip_id("pi-01")
    result = Result(
        clip_id=clip_id,
        processed_by="edge",
        detector="hog",
        labels="person",
        summary={"person": LabelSummary(max_count=2, frames_seen=3, best_score=0.9)},
        snapshot_key="anything/the/edge/says.jpg",
    )
    reply = _post_with_snapshot(client, vtest_mp4, clip_id, result, jpeg)
    assert reply.status_code == 201, reply.json
    aws, _ = mocked_aws
    stored = aws.s3.get_object(Bucket="edgecloud-results", Key=snapshot_key(clip_id))["Body"].read()
    assert stored == jpeg
    status = client.get(f"/v1/clips/{clip_id}").json
    assert status["result"]["snapshot_key"] == snapshot_key(clip_id)  # the controller's key, not the edge's
    assert "X-Amz-Signature=" in status["snapshot_url"] and "X-Amz-Expires=600" in status["video_url"]
    assert f"/{clip_id}.mp4" in status["video_url"]

    _login(client, operator)
    page = client.get("/clips").get_data(as_text=True)
    assert clip_id in page and "person ×2" in page and f'src="/snapshots/{clip_id}.jpg"' in page
    assert "X-Amz-Signature" not in page  # a signed link is new at each refresh: the browser would fetch it again
    assert clip_id not in client.get("/clips?label=car").get_data(as_text=True)
    assert clip_id in client.get("/clips?label=person&status=done&device=pi-01").get_data(as_text=True)
    assert clip_id not in client.get("/clips?day=2001-01-01").get_data(as_text=True)
    one = client.get(f"/clips/{clip_id}").get_data(as_text=True)
    assert '<video id="clip-video"' in one and 'id="clip-snapshot"' in one and "Raw result JSON" in one


def test_a_clip_page_of_an_impossible_date_is_not_found(client, operator):
    _login(client, operator)
    for clip_id in ("20261399T999999999Z_pi-01_3fa9c2d1", "20260230T120000000Z_pi-01_3fa9c2d1"):
        assert client.get(f"/clips/{clip_id}").status_code == 404


def test_a_snapshot_must_be_a_jpeg_and_come_with_a_result(post_clip, client, vtest_mp4):
    clip_id = new_clip_id("pi-01")
    reply = _post_with_snapshot(client, vtest_mp4, clip_id, None, b"\xff\xd8\xff")
    assert reply.status_code == 400 and "only with the edge's result" in reply.json["error"]
    result = Result(clip_id=clip_id, processed_by="edge", detector="hog")
    assert _post_with_snapshot(client, vtest_mp4, clip_id, result, b"GIF89a").status_code == 415


def test_fleet_and_devices_pages_and_revoking_a_device(client, operator, registry, post_clip, vtest_mp4):
    # The client fixture uploads as device pi-01, whose credential it made.
    _edge_clip(post_clip, vtest_mp4)
    _login(client, operator)
    fleet = client.get("/fleet").get_data(as_text=True)
    assert "<svg" in fleet and "median upload_to_result_s" in fleet
    devices = client.get("/devices").get_data(as_text=True)
    assert 'data-device="pi-01"' in devices and "Revoke" in devices
    csrf = re.search(r'name="csrf" value="([^"]+)"', devices)[1]
    assert client.post("/devices/pi-01/revoke", data={"csrf": "wrong"}).status_code == 403
    assert registry.list("device")
    reply = client.post("/devices/pi-01/revoke", data={"csrf": csrf})
    assert reply.status_code == 302 and registry.list("device") == []


def test_a_snapshot_has_one_address_the_browser_caches_and_revalidates(client, post_clip, vtest_mp4, operator):
    jpeg = b"\xff\xd8\xff\xe0" + b"1" * 200
    clip_id = new_clip_id("pi-01")
    result = Result(clip_id=clip_id, processed_by="edge", detector="hog", snapshot_key="x.jpg")
    assert _post_with_snapshot(client, vtest_mp4, clip_id, result, jpeg).status_code == 201
    address = f"/snapshots/{clip_id}.jpg"
    assert client.get(address).status_code == 302  # behind the login like every page
    _login(client, operator)
    first = client.get(address)
    assert first.status_code == 200 and first.data == jpeg and first.mimetype == "image/jpeg"
    assert first.cache_control.private and first.cache_control.max_age >= 86400 and first.headers["ETag"]
    again = client.get(address, headers={"If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.data == b""
    assert client.get(f"/clips/{clip_id}").get_data(as_text=True).count(address) == 1
    assert client.get(f"/snapshots/{new_clip_id('pi-01')}.jpg").status_code == 404
    assert client.get("/snapshots/not-a-clip.jpg").status_code == 404


def test_the_favicon_is_there_where_a_browser_asks_for_it(client):
    reply = client.get("/favicon.ico")
    assert reply.status_code == 200 and reply.mimetype == "image/svg+xml" and b"<svg" in reply.data


def test_a_snapshots_size_comes_from_its_jpeg_header_and_no_pixel_is_decoded():
    _, picture = cv2.imencode(".jpg", np.zeros((360, 640, 3), np.uint8))
    jpeg = picture.tobytes()
    pixels = jpeg.index(b"\xff\xda")  # start of scan: the compressed pixels follow
    assert picture_size(jpeg) == picture_size(jpeg[:pixels]) == (640, 360)  # the header alone tells
    assert picture_size(jpeg[:20]) is None  # cut short before its size
    assert picture_size(b"\xff\xd8\xff\xe0" + b"0" * 100) is None and picture_size(b"GIF89a" + jpeg) is None


def test_the_device_page_draws_its_zones_over_the_latest_snapshot(client, post_clip, vtest_mp4, operator, settings):
    settings.zones.devices = {
        "pi-01": {"driveway": [(0.5, 0.5), (1, 0.5), (1, 1), (0.5, 1)], "door": [(0, 0), (0.25, 0), (0.25, 0.5)]}
    }
    _, picture = cv2.imencode(".jpg", np.zeros((360, 640, 3), np.uint8))
    older, latest = new_clip_id("pi-01", utcnow() - timedelta(minutes=1)), new_clip_id("pi-01")
    for clip_id in (older, latest):
        result = Result(clip_id=clip_id, processed_by="edge", detector="hog", snapshot_key="x.jpg")
        assert _post_with_snapshot(client, vtest_mp4, clip_id, result, picture.tobytes()).status_code == 201
    _login(client, operator)
    page = client.get("/devices/pi-01").get_data(as_text=True)
    svg = re.search(r'<svg class="zones".*?</svg>', page, re.S)[0]
    assert 'viewBox="0 0 640 360"' in svg and f'href="/snapshots/{latest}.jpg"' in svg  # the newest, its own size
    driveway = re.search(r'data-zone="driveway"><polygon points="([^"]+)"', svg)[1]
    assert driveway == "320.0,180.0 640.0,180.0 640.0,360.0 320.0,360.0"  # 0-1 coordinates, in pixels
    assert 'data-zone="door"' in svg and ">driveway</text>" in svg
    assert 'href="/devices/pi-01"' in client.get("/devices").get_data(as_text=True)
    bare = client.get("/devices/pi-02")
    assert bare.status_code == 404  # no clips, no zones: no such device
    settings.zones.devices["pi-02"] = {"gate": [(0, 0), (1, 0), (1, 1)]}
    assert "no snapshot yet" in client.get("/devices/pi-02").get_data(as_text=True)
    assert client.get("/devices/Not_A_Device").status_code == 404
