"""GET /v1/events and /v1/events/<id>: events made by the Pi's results at intake; operators see every
device's, a device only its own; bad parameters are clear 400s."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edgecloud.controller.events import event_clip
from edgecloud.controller.resources import resources

from .events_helpers import T0, tracked


def _meta(result, device="pi-01"):
    return {
        "device_id": device,
        "clip_id": result.clip_id,
        "recorded_at": result.recorded_at.isoformat(),
        "fps": 10.0,
        "content_type": "video/mp4",
    }


@pytest.fixture
def events(controller_app, client, post_clip, vtest_mp4):
    """pi-01's two clips (its Pi's results, 5 s apart: one event) through the API; pi-02's event placed directly."""
    door = [tracked(0, labels=("person",), zones=("door",)), tracked(10, labels=("person", "dog"))]
    for result in door:
        assert post_clip(vtest_mp4, _meta(result), result=result).status_code == 201
    theirs = tracked(3600, device="pi-02", labels=("car",), zones=("driveway",))
    store = resources(controller_app).ledger.events
    other = store.add_clip(event_clip(theirs))
    (mine,) = store.search(device="pi-01")
    return mine, other, door


def test_a_device_lists_its_own_events_made_from_its_results(client, events):
    mine, _, door = events
    listed = client.get("/v1/events").get_json()["events"]
    assert [e["event_id"] for e in listed] == [mine.event_id]
    (event,) = listed
    assert event["clip_ids"] == [r.clip_id for r in door] and event["labels"] == ["dog", "person"]
    assert event["unique"] == {"dog": 1, "person": 1} and event["zones"] == ["door"]
    assert event["snapshot_url"] is None  # the Pi sent no snapshot part (the store's tests pick the best one)
    assert client.get(f"/v1/events/{mine.event_id}").get_json()["clip_ids"] == event["clip_ids"]


def test_the_demo_reports_events_as_the_api_lists_them(operator_client, events):
    from edgecloud.wiring.demo_report import event_summaries

    mine, other, door = events
    assert event_summaries(operator_client.get("/v1/events").get_json()["events"]) == [
        {
            "event_id": mine.event_id,
            "device_id": "pi-01",
            "clip_ids": [r.clip_id for r in door],
            "labels": ["dog", "person"],
        },
        {"event_id": other.event_id, "device_id": "pi-02", "clip_ids": other.clip_ids, "labels": ["car"]},
    ]


def test_a_device_may_not_read_another_devices_events(client, events):
    _, other, _ = events
    assert client.get("/v1/events?device=pi-02").status_code == 403
    assert client.get(f"/v1/events/{other.event_id}").status_code == 403


def test_operators_see_every_device_and_filter(operator_client, events):
    mine, other, _ = events

    def ids(query=""):
        reply = operator_client.get("/v1/events" + query)
        assert reply.status_code == 200, reply.get_json()
        return [e["event_id"] for e in reply.get_json()["events"]]

    assert ids() == [other.event_id, mine.event_id]  # newest first
    assert ids("?device=pi-02") == [other.event_id]
    assert ids("?label=dog") == [mine.event_id] and ids("?zone=driveway") == [other.event_id]
    assert ids("?label=dog&zone=driveway") == []
    since = (T0 + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    assert ids(f"?since={since}") == [other.event_id] and ids("?limit=1") == [other.event_id]
    detail = operator_client.get(f"/v1/events/{other.event_id}").get_json()
    assert detail["device_id"] == "pi-02" and detail["snapshot_url"].startswith("http")  # a presigned GET


@pytest.mark.parametrize(
    "query, says",
    [
        ("?device=Pi_01", "device"),
        ("?since=yesterday", "since"),
        ("?limit=0", "limit"),
        ("?limit=x", "limit"),
        ("?label=" + "x" * 65, "label"),
        ("?zone=a%0Ab", "zone"),
    ],
)
def test_bad_parameters_are_clear_400s(operator_client, query, says):
    reply = operator_client.get("/v1/events" + query)
    assert reply.status_code == 400 and says in reply.get_json()["error"]


def test_an_event_id_is_checked_then_looked_up(operator_client, events):
    assert operator_client.get("/v1/events/nope").status_code == 400
    assert operator_client.get("/v1/events/ev_20261203T070000000Z_pi-01_00000000").status_code == 404
