"""The dashboard's pages and the HTML fragments its script refreshes."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime, timedelta, timezone
from datetime import time as dtime
from functools import wraps
from typing import Optional
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, abort, g, redirect, render_template, request, url_for

from edgecloud.clock import utcnow
from edgecloud.credentials import CredentialError
from edgecloud.fleet_query import describe_fleet
from edgecloud.protocol.ids import BadClipId, check_device_id, parse_clip_id
from edgecloud.protocol.states import FINAL

from ..errors import Refused
from ..events import event_clip
from ..resources import get_fleet, get_ledger, get_not_ready, get_registry, get_settings, get_store, resources
from . import auth
from .charts import latency_chart, objects_timeline, timeline
from .zones import picture_size, zones_over

bp = Blueprint(
    "dashboard", __name__, template_folder="templates", static_folder="static", static_url_path="/dashboard/static"
)
PAGE_SIZE = 25
REFRESH_S = 3
STATUSES = ("queued", "processing", "done", "failed", "dropped")


def login_required(view):
    @wraps(view)
    def wrapped(*args, **kwargs):
        g.operator = auth.current_operator()
        if g.operator is None:
            if request.path.startswith("/fragments/"):
                abort(401)
            return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
        return view(*args, **kwargs)

    return wrapped


@bp.app_template_filter("ago")
def _ago(when):
    if when is None:
        return ""
    seconds = (utcnow() - when).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f} {unit} ago"
    return f"{max(0, seconds):.0f} s ago"


def same_site_path(target: str) -> Optional[str]:
    """``target`` when it is a path of this site, else None: never an open redirect. Browsers drop
    tabs and newlines from a URL and read a backslash as a slash, so ``/<tab>/evil.example`` or
    ``/<backslash>evil.example`` would leave for another host as surely as ``//evil.example``: any
    control character or backslash, or a second leading slash, and it is refused."""
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    if any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in target):
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


@bp.route("/login", methods=["GET", "POST"])
def login():
    error = None
    target = same_site_path(request.values.get("next", "")) or url_for("dashboard.events")
    if request.method == "POST":
        try:
            if auth.login_with_token(request.form.get("token", "")):
                return redirect(target)
        except Refused as refused:  # this address is past its wrong tokens: a page, not the API's JSON
            return (
                render_template("login.html", error=f"{refused.message}; try again later.", next=target),
                refused.status,
                refused.headers,
            )
        error = "That is not an operator token (or it was revoked)."
    return render_template("login.html", error=error, next=target), 401 if error else 200


@bp.get("/login/link/<ticket>")
def login_link(ticket: str):
    if auth.login_with_link(ticket) is None:
        error = "This login link has expired or was used already."
        return render_template("login.html", error=error, next=url_for("dashboard.events")), 401
    return redirect(url_for("dashboard.events"))


@bp.post("/logout")
def logout():
    if auth.csrf_ok():
        auth.end_session()
    return redirect(url_for("dashboard.login"))


# -- recent clips -----------------------------------------------------------------------


def valid_day(text: str) -> str:
    """``text`` when it is a day (YYYY-MM-DD), else "" (no day filter)."""
    try:
        return text if text and datetime.strptime(text, "%Y-%m-%d") else ""
    except ValueError:
        return ""


def _filters() -> dict:
    f = {k: request.args.get(k, "").strip() for k in ("device", "label", "status", "day")}
    f["day"] = valid_day(f["day"])
    if f["status"] not in STATUSES:
        f["status"] = ""
    return f


def _clip_rows(filters: dict, page: int) -> list[dict]:
    rows = get_ledger().search(**filters, limit=PAGE_SIZE + 1, offset=(page - 1) * PAGE_SIZE)
    return [{"row": r, "thumb": snapshot_url(r.clip_id) if r.snapshot_key else None} for r in rows]


def snapshot_url(clip_id: str) -> str:
    """The clip's snapshot at its stable address (controller/dashboard/media.py): cached, fetched once."""
    return url_for("dashboard.snapshot", clip_id=clip_id)


@bp.get("/clips")
@login_required
def clips():
    filters, page = _filters(), max(1, request.args.get("page", 1, type=int))
    rows = _clip_rows(filters, page)
    query = {k: v for k, v in filters.items() if v}
    return render_template(
        "clips.html",
        rows=rows[:PAGE_SIZE],
        filters=filters,
        page=page,
        statuses=STATUSES,
        more=len(rows) > PAGE_SIZE,
        query=query,
        refresh_s=REFRESH_S,
        devices=[d["device_id"] for d in get_ledger().devices(utcnow())],
        fragment=url_for("dashboard.clip_rows", **query, page=page),
        page_url=lambda n: url_for("dashboard.clips") + "?" + urlencode({**query, "page": n}),
    )


@bp.get("/fragments/clips")
@login_required
def clip_rows():
    page = max(1, request.args.get("page", 1, type=int))
    return render_template("_clip_rows.html", rows=_clip_rows(_filters(), page)[:PAGE_SIZE])


# -- one clip ---------------------------------------------------------------------------


@bp.get("/clips/<clip_id>")
@login_required
def clip(clip_id: str):
    try:
        parse_clip_id(clip_id)
    except BadClipId:
        abort(404)
    row = get_ledger().get(clip_id)
    store = get_store()
    result = store.results.get(clip_id)
    if row is None and result is None:
        abort(404)
    status = row.status if row else result.status
    final = status in FINAL
    data = result.model_dump(mode="json") if result and final else None
    return render_template(
        "clip.html",
        clip_id=clip_id,
        row=row,
        result=result if final else None,
        status=status,
        raw=json.dumps(data, indent=2) if data else None,
        video_url=store.clip_url(clip_id) if final and not (row and row.video_dropped) else None,
        final=final,
        snapshot_url=snapshot_url(clip_id) if final and result and result.snapshot_key else None,
        timeline=timeline(data["detections"], 0.0) if data and data["detections"] else None,
        objects=objects_timeline(data["objects"], 0.0) if data and data["objects"] else None,
        event=_event_of(result) if final and result else None,
        seen=_seen_when(data["detections"]) if data else [],
    )


def _event_of(result):
    """The event the clip is part of (clips with tracked objects form events); None otherwise."""
    part, store = event_clip(result), get_ledger().events
    return store.event_of(part) if part and store else None


def _seen_when(detections: list[dict]) -> list[tuple[float, str]]:
    per_t: dict[float, Counter] = {}
    for d in detections:
        per_t.setdefault(d["t"], Counter())[d["label"]] += 1
    return [(t, ", ".join(f"{n} {label}" for label, n in sorted(c.items()))) for t, c in sorted(per_t.items())]


# -- fleet and queue --------------------------------------------------------------------


def _fleet_context() -> dict:
    now = utcnow()
    res, settings = resources(), get_settings()
    instances = sorted(describe_fleet(res.aws, settings.fleet.name), key=lambda i: i["LaunchTime"], reverse=True)
    finished = get_ledger().finished_since(now - timedelta(hours=1))
    points = [
        (r.finished_at, r.upload_to_result_s, r.processed_by == "edge")
        for r in finished
        if r.upload_to_result_s is not None and r.status == "done"
    ]
    upload_to_result, process = get_ledger().medians()
    not_ready = [{**w, "seen_at": datetime.fromisoformat(w["seen_at"])} for w in get_not_ready()]
    return dict(
        states=get_fleet().states(),
        queue=get_store().queue_depth(),
        instances=instances[:20],
        by_state=Counter(i["State"]["Name"] for i in instances),
        chart=latency_chart(points, now, timedelta(hours=1)),
        upload_to_result=upload_to_result,
        process=process,
        counts=get_ledger().counts(),
        not_ready=not_ready,
    )


@bp.get("/fleet")
@login_required
def fleet():
    return render_template("fleet.html", refresh_s=REFRESH_S, **_fleet_context())


@bp.get("/fragments/fleet")
@login_required
def fleet_body():
    return render_template("_fleet_body.html", **_fleet_context())


# -- devices ----------------------------------------------------------------------------


@bp.get("/devices")
@login_required
def devices():
    midnight = datetime.combine(utcnow().date(), dtime.min, tzinfo=timezone.utc)
    seen = {d["device_id"]: d for d in get_ledger().devices(midnight)}
    tokens = {t["name"]: t for t in get_registry().list("device")}
    names = sorted(set(seen) | set(tokens))
    return render_template("devices.html", names=names, seen=seen, tokens=tokens, message=request.args.get("m"))


@bp.get("/devices/<device_id>")
@login_required
def device(device_id: str):
    """One device: its zones drawn over its latest snapshot, and its latest clips."""
    try:
        check_device_id(device_id)
    except ValueError:
        abort(404)
    recent = _clip_rows({"device": device_id}, 1)[:PAGE_SIZE]
    if not recent and device_id not in get_settings().zones.devices:
        abort(404)
    latest = next((item["row"].clip_id for item in recent if item["thumb"]), None)
    found = get_store().snapshot(latest) if latest else None
    size = picture_size(found[0]) if found else None
    return render_template(
        "device.html",
        device_id=device_id,
        rows=recent,
        latest=latest if size else None,
        zones=get_settings().zones.of(device_id),
        drawing=zones_over(get_settings().zones.of(device_id), snapshot_url(latest) if size else None, size),
    )


@bp.post("/devices/<name>/revoke")
@login_required
def revoke_device(name: str):
    if not auth.csrf_ok():
        abort(403)
    try:
        get_registry().revoke("device", name)
        message = f"Token of {name} revoked."
    except CredentialError as err:
        message = str(err)
    return redirect(url_for("dashboard.devices", m=message))
