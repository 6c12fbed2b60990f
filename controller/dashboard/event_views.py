"""The events pages: ``/events``, the landing page (events newest first, filtered by device, label,
zone and day; ``/`` leads there, its query kept), and ``/events/<event id>``, which plays the
event's clips in order beside their timelines.

Events are the ``events`` branch's store (controller/event_store.py), kept beside the clip ledger
(``get_ledger().events``): clips of one device that follow each other within ``events.gap_s``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from urllib.parse import quote

from flask import abort, redirect, render_template, request, url_for

from edgecloud.clock import parse_utc, utcnow

from ..event_store import EventStore
from ..events import BadEventId, Event, check_event_id
from ..resources import get_ledger, get_settings, get_store
from .charts import objects_timeline
from .views import REFRESH_S, bp, login_required, snapshot_url, valid_day

EVENTS_SHOWN = 50  # the events a page lists; "Older events" pages back from its last


def _store() -> EventStore:
    store = get_ledger().events
    if store is None:  # a ledger opened without its events (never the controller's own)
        abort(404)
    return store


def _page_end() -> tuple[datetime | None, str]:
    """Where an "Older events" link's page starts: after the event it names (``before`` its start,
    ``before_id`` its id); a bad or half cursor is no cursor (the newest page)."""
    try:
        before = parse_utc(request.args.get("before", ""))
        check_event_id(request.args.get("before_id", ""))
    except (ValueError, BadEventId):
        return None, ""
    return before, request.args["before_id"]


def _filters() -> dict:
    f = {k: request.args.get(k, "").strip()[:64] for k in ("device", "label", "zone", "day")}
    return {**f, "day": valid_day(f["day"])}


def find_events(store: EventStore, filters: dict, before: datetime | None = None, before_id: str = "") -> list[Event]:
    """EVENTS_SHOWN events that match, newest first, after the one ``before``/``before_id`` name if
    they name one; ``day``: those that started that day (UTC)."""
    query = {k: filters[k] for k in ("device", "label", "zone")}
    since = None
    if filters["day"]:
        since = datetime.combine(datetime.strptime(filters["day"], "%Y-%m-%d").date(), dtime.min, tzinfo=timezone.utc)
        end = since + timedelta(days=1)
        if before is None or before >= end:
            before, before_id = end, ""
    return store.search(**query, since=since, before=before, before_id=before_id, limit=EVENTS_SHOWN)


def _older(filters: dict, events: list[Event]) -> str | None:
    """The link to the page after a full one: the same filters, from its last event on."""
    if len(events) < EVENTS_SHOWN:
        return None
    last = events[-1]
    query = {k: v for k, v in filters.items() if v}
    return url_for("dashboard.events", **query, before=last.started_at.isoformat(), before_id=last.event_id)


def _rows(events: list[Event]) -> list[dict]:
    return [
        {
            "event": e,
            "thumb": snapshot_url(e.best.clip_id) if e.best.snapshot_key else None,
            "duration_s": (e.ended_at - e.started_at).total_seconds(),
        }
        for e in events
    ]


@bp.get("/")
def landing():
    """Old links and bookmarks of ``/`` land on the Events page with their filters (``/events``
    asks for the login itself, its ``next`` then pointing there). Bytes that are no part of a
    query are escaped: what reaches the Location header is plain ASCII."""
    query = quote(request.query_string, safe="/?:@!$&'()*+,;=%")
    return redirect(url_for("dashboard.events") + (f"?{query}" if query else ""))


@bp.get("/events")
@login_required
def events():
    filters = _filters()
    before, before_id = _page_end()
    query = {k: v for k, v in filters.items() if v}
    zones = sorted({name for device in get_settings().zones.devices.values() for name in device})
    found = find_events(_store(), filters, before, before_id)
    page = {"before": before.isoformat(), "before_id": before_id} if before else {}
    return render_template(
        "events.html",
        rows=_rows(found),
        older=_older(filters, found),
        paged=bool(page),
        filters=filters,
        query=query,
        zones=zones,
        devices=[d["device_id"] for d in get_ledger().devices(utcnow())],
        shown=EVENTS_SHOWN,
        gap_s=get_settings().events.gap_s,
        refresh_s=REFRESH_S,
        fragment=url_for("dashboard.event_rows", **query, **page),
    )


@bp.get("/fragments/events")
@login_required
def event_rows():
    return render_template("_event_rows.html", rows=_rows(find_events(_store(), _filters(), *_page_end())))


@bp.get("/events/<event_id>")
@login_required
def event(event_id: str):
    try:
        check_event_id(event_id)
    except BadEventId:
        abort(404)
    found = _store().get(event_id)
    if found is None:
        abort(404)
    if found.event_id != event_id:  # merged into an earlier event since (an old alert's link)
        return redirect(url_for("dashboard.event", event_id=found.event_id))
    store = get_store()
    clips = []
    for part in found.clips:  # in trigger order: the order they play in
        result = store.results.get(part.clip_id)
        objects = [o.model_dump(mode="json") for o in result.objects] if result else []
        clips.append(
            {
                "part": part,
                "video_url": store.clip_url(part.clip_id),
                "objects": objects,
                "timeline": objects_timeline(objects, (part.ended_at - part.started_at).total_seconds()),
                "thumb": snapshot_url(part.clip_id) if part.snapshot_key else None,
            }
        )
    return render_template(
        "event.html", event=found, clips=clips, duration_s=(found.ended_at - found.started_at).total_seconds()
    )
