"""Snapshots at addresses that never change, so the browser fetches each one once; and the favicon.

A presigned S3 link is new at every signing: a list that refreshes every few seconds made the
browser download every thumbnail again (and abort the loads still running). A clip's snapshot
never changes once stored, so ``/snapshots/<clip id>.jpg`` serves it with its ETag and a long
private cache life; the refreshing script keeps the <img> elements it already shows.
"""

from __future__ import annotations

from flask import Response, abort, request

from edgecloud.protocol.ids import BadClipId, ClipId

from ..resources import get_store
from .views import bp, login_required

SNAPSHOT_CACHE_S = 7 * 86400  # private: behind the operator login, never in a shared cache


@bp.get("/snapshots/<clip_id>.jpg")
@login_required
def snapshot(clip_id: str):
    try:
        checked = ClipId(clip_id)
    except BadClipId:
        abort(404)
    found = get_store().snapshot(checked)
    if found is None:
        abort(404)
    body, etag = found
    reply = Response(body, mimetype="image/jpeg")
    reply.set_etag(etag)
    reply.cache_control.private = True
    reply.cache_control.max_age = SNAPSHOT_CACHE_S
    reply.cache_control.immutable = True
    return reply.make_conditional(request)


@bp.get("/favicon.ico")
def favicon():
    """Browsers ask for /favicon.ico where a page names no icon (a JSON reply, a bare video)."""
    reply = bp.send_static_file("favicon.svg")
    reply.cache_control.max_age = 86400
    return reply
