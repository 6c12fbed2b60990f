"""The dashboard's events pages through Flask's test client on in-process moto: the landing page
(``/events``; ``/`` leads there) lists events newest first with their filters, and an event's page
lays out its clips in trigger order, each with its video and its tracked objects' timeline. (In a
real browser, the clips playing one after another: tests/integration/test_dashboard_browser.py.)"""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta

import cv2
import numpy as np
import pytest

from edgecloud.clock import utcnow
from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.messages import LabelSummary, Result, TrackedObject

NOW = utcnow()


@pytest.fixture
def web(app):
    """A browser's view: an operator's session cookie, no bearer token."""
    web = app.test_client()
    token = resources(app).registry.add("operator", "alice")
    assert web.post("/login", data={"token": token}).location == "/events"  # the landing page
    return web


@pytest.fixture
def upload(app, vtest_mp4):
    """upload(device, seconds ago, {label: (last seen s, zones)}) -> clip id: the clip, the edge's result
    with its tracked objects and a snapshot, as a Pi sends them."""
    tokens: dict[str, str] = {}
    _, picture = cv2.imencode(".jpg", np.zeros((360, 640, 3), np.uint8))

    def send(device: str, ago_s: float, objects: dict[str, tuple[float, tuple[str, ...]]]) -> str:
        if device not in tokens:
            tokens[device] = resources(app).registry.add("device", device)
        at = NOW - timedelta(seconds=ago_s)
        clip_id = new_clip_id(device, at)
        tracked = [
            TrackedObject(
                track_id=n + 1,
                label=label,
                first_seen_s=0.5,
                last_seen_s=last,
                frames=4,
                best_score=0.8,
                best_box=(10, 10, 50, 90),
                best_frame_s=1.0,
                zones=sorted(zones),
            )
            for n, (label, (last, zones)) in enumerate(sorted(objects.items()))
        ]
        result = Result(
            clip_id=clip_id,
            processed_by="edge",
            detector="hog",
            labels=",".join(sorted(objects)),
            summary={label: LabelSummary(max_count=1, frames_seen=4, best_score=0.8, unique=1) for label in objects},
            objects=tracked,
            recorded_at=at,
            snapshot_key="x.jpg",
        )
        reply = app.test_client().post(
            "/v1/clips",
            headers={"Authorization": f"Bearer {tokens[device]}"},
            data={
                "clip": (io.BytesIO(vtest_mp4.read_bytes()), "c.mp4", "video/mp4"),
                "metadata": json.dumps({"clip_id": clip_id, "device_id": device, "fps": 10}),
                "result": result.model_dump_json(),
                "snapshot": (io.BytesIO(picture.tobytes()), "s.jpg", "image/jpeg"),
            },
            content_type="multipart/form-data",
        )
        assert reply.status_code == 201, reply.json
        return clip_id

    return send


def _listed(web, query: str = "") -> list[str]:
    return re.findall(r'<tr class="event" data-event-id="([^"]+)"', web.get("/events" + query).get_data(as_text=True))


def test_the_landing_page_lists_events_newest_first_and_filters_them(web, upload, settings):
    settings.zones.devices = {"pi-01": {"driveway": [(0, 0.5), (1, 0.5), (1, 1), (0, 1)]}}
    first = upload("pi-01", 100, {"person": (5.0, ("driveway",))})
    upload("pi-01", 80, {"person": (4.0, ()), "car": (4.0, ())})  # 15 s after the first ended: the same event
    other = upload("pi-02", 60, {"car": (3.0, ())})
    later = upload("pi-01", 10, {"person": (2.0, ())})  # a minute after: an event of its own
    visit, car, last = (f"ev_{clip_id}" for clip_id in (first, other, later))
    assert _listed(web) == [last, car, visit]
    assert _listed(web, "?device=pi-02") == [car]
    assert _listed(web, "?label=car") == [car, visit]
    assert _listed(web, "?zone=driveway") == [visit]
    assert _listed(web, "?zone=driveway&label=car&device=pi-01") == [visit]
    assert _listed(web, f"?day={NOW.date().isoformat()}") == [last, car, visit]
    assert _listed(web, "?day=2001-01-01") == [] and _listed(web, "?day=not-a-day") == [last, car, visit]
    page = web.get("/events").get_data(as_text=True)
    assert f'src="/snapshots/{first}.jpg"' in page and f'src="/snapshots/{later}.jpg"' in page  # stable addresses
    assert "<option selected>driveway</option>" in web.get("/events?zone=driveway").get_data(as_text=True)
    rows = web.get("/fragments/events?device=pi-02").get_data(as_text=True)
    assert car in rows and visit not in rows


def test_the_root_leads_to_the_events_page_with_its_query(web, app):
    reply = web.get("/?device=pi-01&zone=drive%20way&label=car")
    assert reply.status_code == 302 and reply.location == "/events?device=pi-01&zone=drive%20way&label=car"
    assert web.get("/").location == "/events"
    # Bytes a client sent unescaped (WSGI hands them over as latin-1): escaped, the same query.
    raw = web.get("/", environ_overrides={"QUERY_STRING": "zone=caf\xc3\xa9&x=\x01"})
    assert raw.location == "/events?zone=caf%C3%A9&x=%01"
    assert "<h1>Events</h1>" in web.get("/?zone=door", follow_redirects=True).get_data(as_text=True)
    stranger = app.test_client()
    reply = stranger.get("/events?device=pi-01")  # a stranger: to the login page, then back here
    assert reply.status_code == 302 and reply.location == "/login?next=/events?device%3Dpi-01"
    login = stranger.get("/?device=pi-01", follow_redirects=True)
    assert login.request.path == "/login" and login.request.args["next"] == "/events?device=pi-01"
    assert 'name="next" value="/events?device=pi-01"' in login.get_data(as_text=True)
    assert 'name="next" value="/events"' in stranger.get("/login").get_data(as_text=True)  # the default


def test_an_event_page_lays_out_its_clips_in_trigger_order_with_their_timelines(web, upload):
    first = upload("pi-01", 100, {"person": (5.0, ())})
    second = upload("pi-01", 80, {"person": (4.0, ()), "car": (2.5, ())})
    page = web.get(f"/events/ev_{first}").get_data(as_text=True)
    order = re.findall(r'<li class="event-clip" data-clip-id="([^"]+)" data-clip-src="([^"]*)"', page)
    assert [clip_id for clip_id, _ in order] == [first, second]
    assert all(f"/{clip_id}.mp4?" in src for clip_id, src in order)  # each clip's own video
    video = re.search(r'<video id="event-video"[^>]*>', page, re.S)[0]
    assert f"/{first}.mp4?" in video  # the first plays first
    charts = re.findall(r'<svg class="chart timeline objects".*?</svg>', page, re.S)
    assert len(charts) == 2 and charts[1].count("<rect ") == 2 and ">car #1</text>" in charts[1]
    assert "person #2: 0.5–4.0 s" in charts[1] and 'class="playhead"' in charts[1]
    assert "person ×1" in page and "car ×1" in page


def test_an_unknown_or_malformed_event_is_not_found(web):
    assert web.get(f"/events/ev_{new_clip_id('pi-01')}").status_code == 404
    assert web.get("/events/not-an-event").status_code == 404
    assert web.get("/events/ev_../../etc").status_code == 404


def test_a_clip_page_links_to_its_event_and_charts_its_tracked_objects(web, upload):
    first = upload("pi-01", 100, {"person": (5.0, ("door",))})
    second = upload("pi-01", 80, {"car": (2.5, ())})
    page = web.get(f"/clips/{second}").get_data(as_text=True)
    assert f'href="/events/ev_{first}"' in page and "of 2 clips" in page
    chart = re.search(r'<svg class="chart timeline objects".*?</svg>', page, re.S)[0]
    assert ">car #1</text>" in chart and chart.count("<rect ") == 1


def test_older_events_pages_back_through_every_event_once(web, upload, monkeypatch):
    from edgecloud.controller.dashboard import event_views

    monkeypatch.setattr(event_views, "EVENTS_SHOWN", 2)
    # Five events; two start at the same moment (two devices), so a page may end between them.
    clips = [upload("pi-01", 300, {"person": (2.0, ())}), upload("pi-02", 200, {"person": (2.0, ())})]
    clips += [upload("pi-03", 200, {"car": (2.0, ())}), upload("pi-01", 100, {"person": (2.0, ())})]
    clips.append(upload("pi-02", 10, {"person": (2.0, ())}))
    assert len(_listed(web)) == 2  # a page

    def walk(query: str) -> list[str]:
        seen, url = [], "/events" + query
        while url:
            page = web.get(url).get_data(as_text=True)
            seen += re.findall(r'<tr class="event" data-event-id="([^"]+)"', page)
            older = re.search(r'<a href="([^"]+)" id="older-events">', page)
            url = older.group(1).replace("&amp;", "&") if older else None
        return seen

    events = {f"ev_{c}" for c in clips}
    walked = walk("")
    assert sorted(walked) == sorted(events) and len(walked) == 5  # each once
    assert walked[0] == f"ev_{clips[-1]}" and walked[-1] == f"ev_{clips[0]}"  # newest first
    assert walk(f"?day={NOW.date().isoformat()}") == walked  # the day's pages: the same, paged the same
    assert walk("?label=person") == [e for e in walked if e != f"ev_{clips[2]}"]
    older = re.search(r'<a href="([^"]+)" id="older-events">', web.get("/events").get_data(as_text=True))
    url = older.group(1).replace("&amp;", "&")
    assert "Older 2 events" in web.get(url).get_data(as_text=True)
    fragment = url.replace("/events?", "/fragments/events?")  # a paged page's refresh keeps its window
    assert re.findall(r'data-event-id="([^"]+)"', web.get(fragment).get_data(as_text=True)) == walked[2:4]
    assert _listed(web, "?before=not-a-time&before_id=ev_x") == walked[:2]  # a bad cursor: the newest page
