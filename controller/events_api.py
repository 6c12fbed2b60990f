"""``GET /v1/events`` and ``GET /v1/events/<id>``: the events a person reviews (controller/events.py).

Operators see every device's events, a device only its own (``require_reader``): a device that
names another device, or another device's event, is refused (403) before anything is read.
Bad parameters are 400s that say which and why. Importing this module adds the routes to ``api.bp``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from flask import jsonify, request
from pydantic import BaseModel, Field

from edgecloud.clock import parse_utc
from edgecloud.protocol.ids import check_device_id

from . import auth
from .api import bp
from .clip_row import iso
from .errors import Refused
from .events import BadEventId, Event, check_event_id
from .resources import get_ledger, get_store

MAX_LIMIT = 200
MAX_NAME = 64  # a label's or zone's name (zones: settings allow 1 to 64 characters)


class EventOut(BaseModel):
    """One event: clips of one device, each starting less than events.gap_s after the one before ended."""

    event_id: str = Field(
        description="ev_<the id of the clip that opened it>: its first, unless an earlier clip arrived late and "
        "joined it (an id never changes); an event merged into another leads to that one"
    )
    device_id: str
    started_at: str = Field(description="Its first clip's trigger (ISO 8601, UTC)")
    ended_at: str = Field(description="When an object was last seen in its clips")
    labels: list[str]
    unique: dict[str, int] = Field(description="Per label, the most tracked objects one clip saw: at least this many")
    sightings: dict[str, int] = Field(description="Per label, tracked objects summed over clips: at most this many")
    zones: list[str] = Field(description="Zones any of its objects entered")
    clip_ids: list[str] = Field(description="By trigger time")
    best_clip_id: str = Field(description="The clip whose object scored best (one with a snapshot, when any has)")
    best_score: float
    snapshot_key: Optional[str]
    snapshot_url: Optional[str] = Field(description="Presigned GET of the best clip's snapshot")


class EventList(BaseModel):
    """GET /v1/events: newest first (by start, then by event id: controller/event_pages.py)."""

    events: list[EventOut]
    next_before: Optional[str] = Field(
        description="A full page: its oldest event's start, the next page's `before` (null: no more)"
    )
    next_before_id: Optional[str] = Field(
        description="A full page: its oldest event's id, the next page's `before_id` (events sharing that start)"
    )


def _name(param: str) -> str:
    value = request.args.get(param, "")
    if len(value) > MAX_NAME or any(not c.isprintable() for c in value):
        raise Refused(f"{param}: at most {MAX_NAME} printable characters")
    return value


def _time(param: str) -> Optional[datetime]:
    text = request.args.get(param)
    if text is None:
        return None
    try:
        return parse_utc(text)
    except ValueError:
        raise Refused(f"{param}: not an ISO 8601 time (e.g. 2026-12-03T07:00:00Z): {text[:40]!r}") from None


def _before_id(before: Optional[datetime]) -> str:
    """The event a page ends at, with ``before`` its start: the next page lists the events after it."""
    event_id = request.args.get("before_id", "")
    if not event_id:
        return ""
    if before is None:
        raise Refused("before_id: only with before (the start of the event it names)")
    try:
        check_event_id(event_id)
    except BadEventId as err:
        raise Refused(f"before_id: {err}") from None
    return event_id


def _limit() -> int:
    text = request.args.get("limit", "50")
    if not text.isascii() or not text.isdigit() or not 1 <= int(text) <= MAX_LIMIT:
        raise Refused(f"limit: a whole number from 1 to {MAX_LIMIT}, not {text[:20]!r}")
    return int(text)


def _events():
    events = get_ledger().events
    if events is None:
        raise Refused("this controller keeps no events", 503)
    return events


def describe(event: Event) -> dict:
    body = event.as_json()
    body["snapshot_url"] = get_store().snapshot_url(body["snapshot_key"]) if body["snapshot_key"] else None
    return body


@bp.get("/v1/events")
def list_events():
    device = request.args.get("device", "")
    if device:
        try:
            check_device_id(device)
        except ValueError as err:
            raise Refused(f"device: {err}") from None
    who = auth.principal()
    if not who.is_operator:
        auth.require_reader(device or who.name)
        device = who.name  # a device sees its own events only
    label, zone, since, before, limit = _name("label"), _name("zone"), _time("since"), _time("before"), _limit()
    window = {"since": since, "before": before, "before_id": _before_id(before)}
    found = _events().search(device=device, label=label, zone=zone, **window, limit=limit)
    last = found[-1] if len(found) == limit else None  # a shorter page is the last
    return jsonify(
        events=[describe(e) for e in found],
        next_before=iso(last.started_at).replace("+00:00", "Z") if last else None,  # no "+" to escape in a URL
        next_before_id=last.event_id if last else None,
    )


@bp.get("/v1/events/<anytext:event_id>")
def event_detail(event_id: str):
    try:
        first_clip = check_event_id(event_id)
    except BadEventId as err:
        raise Refused(str(err)) from None
    auth.require_reader(first_clip.device)  # an event's id names its device: refused before any read
    event = _events().get(event_id)
    if event is None:
        raise Refused(f"unknown event {event_id!r}", 404)
    return jsonify(describe(event))
