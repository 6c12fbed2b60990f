"""HTTP API v1: clips in, status and stats out. Views validate input and call
the intake, ledger and store through the accessors in ``resources``."""

from __future__ import annotations

import logging
import time
from typing import Optional

from flask import Blueprint, Response, jsonify, request, url_for
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from werkzeug.routing import BaseConverter

from edgecloud.clock import utcnow
from edgecloud.limits import refusal
from edgecloud.protocol.containers import CLIP_TYPES, SNIFF_BYTES, container_mismatch
from edgecloud.protocol.ids import BadClipId, ClipId
from edgecloud.protocol.messages import Result, UploadMetadata
from edgecloud.protocol.states import FINAL

from . import auth
from .errors import Refused
from .intake import Intake, UploadInProgress
from .resources import (
    get_fleet,
    get_lease,
    get_ledger,
    get_metrics,
    get_not_ready,
    get_notifier,
    get_public_url,
    get_quotas,
    get_settings,
    get_store,
    get_waits,
)
from .status import as_utc, describe_result, describe_row, with_links
from .upload_form import clip_id_of, edge_result, snapshot_upload, upload_metadata, upload_size
from .wait_param import wait_seconds

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__)


class AnyText(BaseConverter):
    """A URL part of any characters, slashes and newlines too, so every id reaches its check (400)."""

    regex = r"(?s:.+)"
    part_isolating = False


bp.record_once(lambda state: state.app.url_map.converters.setdefault("anytext", AnyText))
POLL_AGAIN_S = 2  # Retry-After of a ?wait= poll answered at once because too many are held


def requesting_device(claimed: str) -> str:
    """The device a /v1 request acts for: the one its token belongs to, which must be the one
    it names (the clip's metadata, a frame request's body); anything else is refused (403)."""
    return auth.require_device(claimed).name


@bp.post("/v1/clips")
def upload_clip():
    started = time.perf_counter()
    settings = get_settings()
    upload = request.files.get("clip")
    meta = upload_metadata()
    if meta.video_dropped:  # the Pi's spool dropped the video: the record (and the Pi's result) come alone
        if upload is not None or meta.clip_id is None:
            raise Refused("with metadata.video_dropped, name the clip (metadata.clip_id) and send no 'clip' part")
        clip_id = clip_id_of(meta)
        auth.require_device(meta.device_id)
        return _accept(clip_id, meta, None, None, 0, edge_result(meta, clip_id), started)
    if upload is None:
        raise Refused("missing file field 'clip'")

    content_type = meta.content_type or upload.mimetype
    if content_type not in CLIP_TYPES:
        raise Refused(f"content type {content_type!r} is not one of {sorted(CLIP_TYPES)}", 415)
    if upload.mimetype in CLIP_TYPES and upload.mimetype != content_type:
        # The clip would be stored and decoded as one format while its file part says another.
        raise Refused(f"content type mismatch: metadata says {content_type!r}, the clip part {upload.mimetype!r}", 415)

    clip_id = clip_id_of(meta)
    auth.require_device(meta.device_id)
    result = edge_result(meta, clip_id)

    size = upload_size(upload.stream)
    limit = int(settings.controller.max_clip_mb * 1024 * 1024)
    if size > limit:
        raise Refused(f"clip is {size} bytes; the limit is {limit}", 413)
    if size == 0:
        raise Refused("clip file is empty")
    # Stored and decoded as what it claims to be: check the container before anything is kept.
    mismatch = container_mismatch(content_type, upload.stream.read(SNIFF_BYTES))
    upload.stream.seek(0)
    if mismatch:
        raise Refused(mismatch, 415)
    over = refusal(upload.stream, settings.limits, fps=meta.fps, content_type=content_type)  # headers only
    if over:
        raise Refused(f"clip refused: {over}", 422)
    return _accept(clip_id, meta, content_type, upload.stream, size, result, started)


def _accept(
    clip_id: str,
    meta: UploadMetadata,
    content_type: Optional[str],
    body,
    size: int,
    result: Optional[Result],
    started: float,
):
    quotas = get_quotas()  # its burst token taken before the body was read (auth); the day's cap: new clips only

    snapshot = snapshot_upload(result)
    intake = Intake(get_store(), get_ledger(), get_metrics(), on_finished=get_notifier().offer)
    try:
        accepted = intake.accept(
            clip_id,
            meta,
            content_type,
            body,
            size,
            result,
            snapshot=snapshot,
            admit=lambda: quotas.take_daily(meta.device_id),
        )
    except UploadInProgress as err:
        raise Refused(str(err), 409, retry_after_s=1) from None
    get_metrics().requests.labels("upload").observe(time.perf_counter() - started)
    return jsonify(
        clip_id=accepted.clip_id,
        status=accepted.status,
        duplicate=accepted.duplicate,
        status_url=_status_url(accepted.clip_id),
    ), 201


def _status_url(clip_id: str) -> str:
    return get_public_url() + url_for("api.clip_status", clip_id=clip_id)  # never from the Host header


@bp.get("/v1/clips/<anytext:clip_id>")
def clip_status(clip_id: str):
    try:
        clip_id = ClipId(clip_id)  # parsed once: its keys and device come from here on
    except BadClipId as err:
        raise Refused(str(err)) from None
    device_id = clip_id.device
    auth.require_reader(device_id)
    wait = wait_seconds(get_settings().controller.max_wait_s)
    with get_waits().hold(device_id) as may_hold:
        body = _clip_status(clip_id, device_id, wait if may_hold else 0.0)
    # A poll we could not hold: the client asks again a little later instead of at once.
    headers = {} if may_hold or not wait or body["status"] in FINAL else {"Retry-After": str(POLL_AGAIN_S)}
    return jsonify(body), 200, headers


def _clip_status(clip_id: str, device_id: str, wait: float) -> dict:
    ledger, store = get_ledger(), get_store()
    row = ledger.wait_final(clip_id, wait) if wait else ledger.get(clip_id)
    if row is None:
        result = store.results.get(clip_id)  # S3 is the source of truth; the ledger may be new
        if result is not None:
            return with_links(describe_result(clip_id, device_id, result), store)
        stored_at = store.clip_stored_at(clip_id)
        if stored_at is None:
            raise Refused(f"unknown clip {clip_id!r}", 404)
        # Stored by a controller whose ledger is gone, and not finished yet: follow it again,
        # so its completion (or ?wait=) lands here.
        ledger.add(clip_id, device_id, "queued", stored_at)
        row = ledger.wait_final(clip_id, wait) if wait else ledger.get(clip_id)
    result = store.results.get(clip_id)
    if result is not None and not row.final:
        # Finished in S3 while the ledger missed the completion (lost, or consumed before it knew the clip).
        ledger.mark_finished(
            clip_id,
            result.status,
            as_utc(result.finished_at) or utcnow(),
            processed_by=result.processed_by,
            error=result.error,
            result=result,
        )
        row = ledger.get(clip_id)
    return with_links(describe_row(row, result if row.final else None), store)


@bp.get("/v1/stats")
def stats():
    upload_to_result, process = get_ledger().medians()
    body = {
        "upload_to_result_s": upload_to_result,
        "process_s": process,
        "queue": {"visible": None, "in_flight": None},
        "workers": {"pending": None, "running": None},
        "videos_dropped": get_ledger().videos_dropped(),
    }
    # A stats reader (the edge's scheduler) is better served by a partial answer than by a 500.
    try:
        body["queue"] = get_store().queue_depth()
    except Exception:
        log.warning("queue depth unavailable", exc_info=True)
    try:
        fleet = get_fleet()
        body["workers"] = fleet.states()
        if hasattr(fleet, "describe"):  # fleet.backend lambda: the function's concurrency
            body["function"] = fleet.describe()
    except Exception:
        log.warning("worker counts unavailable", exc_info=True)
    try:
        body["autoscaler"] = get_lease().describe()  # which controller leads the autoscaling
    except Exception:
        log.warning("autoscaler lease unavailable", exc_info=True)
    body["not_ready"] = None  # workers whose detector cannot load, and why: for operators (paths, packages)
    try:
        if auth.principal().is_operator:
            body["not_ready"] = get_not_ready()
    except Exception:
        log.warning("workers' readiness unavailable", exc_info=True)
    return jsonify(body)


@bp.get("/healthz")
def healthz():
    return jsonify(ok=True)


@bp.get("/metrics")
def metrics():
    return Response(generate_latest(get_metrics().registry), mimetype=CONTENT_TYPE_LATEST)
