"""Bearer tokens on the API: who may upload, read and scrape; revocation within the cache window."""

from __future__ import annotations

import pytest

from edgecloud.controller.resources import resources
from edgecloud.credentials import Registry
from edgecloud.protocol.ids import new_clip_id

from .test_api import meta

ROUTES = [
    ("post", "/v1/clips"),
    ("get", f"/v1/clips/{new_clip_id('pi-01')}"),
    ("get", "/v1/stats"),
    ("get", "/v1/events"),
    ("get", f"/v1/events/ev_{new_clip_id('pi-01')}"),
]


# Ids that do not hold the clip id: xdist's workers must collect the same names.
@pytest.mark.parametrize("method,path", ROUTES, ids=["post-clips", "get-clip", "get-stats", "get-events", "get-event"])
def test_every_v1_route_needs_a_token(controller_app, method, path):
    anonymous = controller_app.test_client()
    reply = getattr(anonymous, method)(path)
    assert reply.status_code == 401 and reply.headers["WWW-Authenticate"].startswith("Bearer")
    assert "Authorization: Bearer" in reply.get_json()["error"]

    wrong = getattr(anonymous, method)(path, headers={"Authorization": "Bearer ecd_" + "x" * 43})
    assert wrong.status_code == 401 and 'error="invalid_token"' in wrong.headers["WWW-Authenticate"]
    assert getattr(anonymous, method)(path, headers={"Authorization": "Basic cGk6MDE="}).status_code == 401


def test_health_is_open_and_metrics_are_for_operators(controller_app, client, operator_client):
    assert controller_app.test_client().get("/healthz").get_json() == {"ok": True}
    assert controller_app.test_client().get("/metrics").status_code == 401
    assert client.get("/metrics").status_code == 403
    reply = operator_client.get("/metrics")
    assert reply.status_code == 200 and b"edgecloud_uploads_total" in reply.data


def test_a_device_uploads_only_as_itself(client, post_clip, vtest_mp4, registry, settings, mocked_aws):
    registry.add("device", "pi-02")
    reply = post_clip(vtest_mp4, meta(new_clip_id("pi-02"), device="pi-02"))
    assert reply.status_code == 403 and "'pi-01' may not act as device 'pi-02'" in reply.get_json()["error"]
    listing = mocked_aws[0].s3.list_objects_v2(Bucket=settings.storage.clips_bucket)
    assert listing.get("KeyCount", 0) == 0  # nothing stored for the impostor
    assert post_clip(vtest_mp4, meta(new_clip_id("pi-01"))).status_code == 201


def test_operators_read_every_clip_and_devices_only_their_own(
    client, operator_client, controller_app, post_clip, vtest_mp4, registry
):
    clip_id = new_clip_id("pi-01")
    assert post_clip(vtest_mp4, meta(clip_id)).status_code == 201
    other = controller_app.test_client()
    other.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {registry.add('device', 'pi-02')}"

    assert client.get(f"/v1/clips/{clip_id}").status_code == 200
    refused = other.get(f"/v1/clips/{clip_id}")
    assert refused.status_code == 403 and "may not read clips of device 'pi-01'" in refused.get_json()["error"]
    assert operator_client.get(f"/v1/clips/{clip_id}").get_json()["device_id"] == "pi-01"
    # Stats carry no device's data; the Pi's scheduler needs the queue depth to place clips.
    assert other.get("/v1/stats").status_code == 200 and operator_client.get("/v1/stats").status_code == 200


def test_operators_do_not_upload(operator_client, vtest_mp4):
    import io
    import json

    reply = operator_client.post(
        "/v1/clips",
        content_type="multipart/form-data",
        data={
            "clip": (io.BytesIO(vtest_mp4.read_bytes()), "clip.mp4", "video/mp4"),
            "metadata": json.dumps(meta(new_clip_id("pi-01"))),
        },
    )
    assert reply.status_code == 403 and "only devices upload" in reply.get_json()["error"]


def test_a_revoked_token_stops_working_on_every_controller_within_the_cache_window(
    settings, mocked_aws, controller_app, device_token
):
    from edgecloud.controller.app import create_app

    aws, queues = mocked_aws
    now = [0.0]
    controllers = []
    for _ in range(2):  # two controllers, each with its own cache, sharing the table
        app = controller_app if not controllers else create_app(settings, {"TESTING": True})
        resources(app).attach(
            aws=aws,
            queues=queues,
            registry=Registry(
                aws, settings.tables.credentials, cache_s=settings.controller.token_cache_s, clock=lambda: now[0]
            ),
        )
        client = app.test_client()
        client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {device_token}"
        assert client.get("/v1/stats").status_code == 200  # checked once, now cached
        controllers.append(client)

    Registry(aws, settings.tables.credentials).revoke("device", "pi-01")  # e.g. `edgecloud devices revoke`
    now[0] = settings.controller.token_cache_s - 1
    assert [c.get("/v1/stats").status_code for c in controllers] == [200, 200]  # still in the cache
    now[0] = settings.controller.token_cache_s + 0.01
    assert [c.get("/v1/stats").status_code for c in controllers] == [401, 401]
    assert settings.controller.token_cache_s <= 60
