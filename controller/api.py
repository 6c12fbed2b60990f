"""HTTP API v1: clips in, status and stats out. Views validate input and call
the intake, ledger and store through the accessors in ``resources``."""
from __future__ import annotations

import json
import logging
import time
from typing import Optional

from flask import Blueprint, Response, jsonify, request, url_for
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from werkzeug.routing import BaseConverter

from edgecloud.jobs import (CLIP_TYPES, SNIFF_BYTES, BadClipId, Result, container_mismatch, new_clip_id,
                            parse_clip_id, shown, utcnow)
from edgecloud.snapshot import is_jpeg

from . import auth
from .intake import Intake, UploadInProgress, UploadMetadata
from .ledger import FINAL
from .status import as_utc, describe_result, describe_row, with_links
from .resources import (get_fleet, get_lease, get_ledger, get_metrics, get_not_ready, get_notifier, get_quotas,
                        get_settings, get_store, get_waits)

log = logging.getLogger(__name__)
bp = Blueprint("api", __name__)
MAX_SNAPSHOT_BYTES = 1024 * 1024


class AnyText(BaseConverter):
    """A URL part of any characters, slashes and newlines too, so every id reaches its check (400)."""

    regex = r"(?s:.+)"
    part_isolating = False


bp.record_once(lambda state: state.app.url_map.converters.setdefault("anytext", AnyText))
POLL_AGAIN_S = 2  # Retry-After of a ?wait= poll answered at once because too many are held


class ApiError(Exception):
    """A client mistake, answered as ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400, retry_after_s: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s


@bp.errorhandler(ApiError)
def _api_error(err: ApiError):
    headers = {} if err.retry_after_s is None else {"Retry-After": str(err.retry_after_s)}
    return jsonify(error=err.message), err.status, headers


def _pydantic_message(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in err.errors())


def _not_json(constant: str):
    # Python's json reads NaN and Infinity; JSON has neither, and a stored NaN reads back as null.
    raise ValueError(f"{constant} is not a JSON number")


def _parse_json_field(name: str, required: bool) -> Optional[str]:
    raw = request.form.get(name)
    if raw is None or raw.strip() == "":
        if required:
            raise ApiError(f"missing form field {name!r} (JSON)")
        return None
    try:
        json.loads(raw, parse_constant=_not_json)
    except ValueError as err:
        raise ApiError(f"form field {name!r} is not valid JSON: {err}") from None
    return raw


def _utc_times(result: Result) -> Result:
    fields = ("recorded_at", "submitted_at", "started_at", "finished_at")
    return result.model_copy(update={f: as_utc(getattr(result, f)) for f in fields})


def _upload_size(stream) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def requesting_device(claimed: str) -> str:
    """The device a /v1 request acts for: the one its token belongs to, which must be the one
    it names (the clip's metadata, a frame request's body); anything else is refused (403)."""
    return auth.require_device(claimed).name


@bp.post("/v1/clips")
def upload_clip():
    started = time.perf_counter()
    settings = get_settings()
    upload = request.files.get("clip")
    if upload is None:
        raise ApiError("missing file field 'clip'")
    try:
        meta = UploadMetadata.model_validate_json(_parse_json_field("metadata", required=True))
    except ValidationError as err:
        raise ApiError(f"bad metadata: {_pydantic_message(err)}") from None
    meta = meta.model_copy(update={"recorded_at": as_utc(meta.recorded_at)})

    content_type = meta.content_type or upload.mimetype
    if content_type not in CLIP_TYPES:
        raise ApiError(f"content type {content_type!r} is not one of {sorted(CLIP_TYPES)}", 415)
    if upload.mimetype in CLIP_TYPES and upload.mimetype != content_type:
        # The clip would be stored and decoded as one format while its file part says another.
        raise ApiError(f"content type mismatch: metadata says {content_type!r}, the clip part {upload.mimetype!r}",
                       415)

    if meta.clip_id is None:
        clip_id = new_clip_id(meta.device_id)
    else:
        try:
            _, device_id = parse_clip_id(meta.clip_id)
        except BadClipId as err:
            raise ApiError(str(err)) from None
        if device_id != meta.device_id:
            raise ApiError(f"clip id {meta.clip_id!r} belongs to device {device_id!r}, not {meta.device_id!r}")
        clip_id = meta.clip_id
    auth.require_device(meta.device_id)

    result = None
    raw_result = _parse_json_field("result", required=False)
    if raw_result is not None:
        try:
            result = Result.model_validate_json(raw_result)
        except ValidationError as err:
            raise ApiError(f"bad result: {_pydantic_message(err)}") from None
        if meta.clip_id is None or result.clip_id != clip_id:
            raise ApiError(f"result is for clip {shown(result.clip_id)}; metadata.clip_id must name the same clip")
        result = _utc_times(result)

    size = _upload_size(upload.stream)
    limit = int(settings.controller.max_clip_mb * 1024 * 1024)
    if size > limit:
        raise ApiError(f"clip is {size} bytes; the limit is {limit}", 413)
    if size == 0:
        raise ApiError("clip file is empty")
    # Stored and decoded as what it claims to be: check the container before anything is kept.
    mismatch = container_mismatch(content_type, upload.stream.read(SNIFF_BYTES))
    upload.stream.seek(0)
    if mismatch:
        raise ApiError(mismatch, 415)
    quotas = get_quotas()
    quotas.take_burst(meta.device_id)  # last: a refused request costs no quota

    snapshot = _snapshot_upload(result)
    intake = Intake(get_store(), get_ledger(), get_metrics(), on_finished=get_notifier().offer)
    try:
        accepted = intake.accept(clip_id, meta, content_type, upload.stream, size, result, snapshot=snapshot,
                                 admit=lambda: quotas.take_daily(meta.device_id))
    except UploadInProgress as err:
        raise ApiError(str(err), 409, retry_after_s=1) from None
    get_metrics().requests.labels("upload").observe(time.perf_counter() - started)
    return jsonify(
        clip_id=accepted.clip_id, status=accepted.status, duplicate=accepted.duplicate,
        status_url=_status_url(accepted.clip_id),
    ), 201


def _snapshot_upload(result: Optional[Result]) -> Optional[bytes]:
    """The edge's snapshot JPEG (file field ``snapshot``), only beside its result."""
    upload = request.files.get("snapshot")
    if upload is None:
        return None
    if result is None:
        raise ApiError("a snapshot comes only with the edge's result")
    data = upload.stream.read(MAX_SNAPSHOT_BYTES + 1)
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise ApiError(f"snapshot is over {MAX_SNAPSHOT_BYTES} bytes", 413)
    if not is_jpeg(data):
        raise ApiError("snapshot is not a JPEG", 415)
    return data


def _status_url(clip_id: str) -> str:
    base = get_settings().controller.url
    if base:
        return base.rstrip("/") + url_for("api.clip_status", clip_id=clip_id)
    return url_for("api.clip_status", clip_id=clip_id, _external=True)


def _wait_seconds() -> float:
    raw = request.args.get("wait")
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        raise ApiError(f"wait must be a number of seconds, got {raw!r}") from None
    if not wait >= 0:
        raise ApiError("wait must be >= 0")
    return min(wait, get_settings().controller.max_wait_s)


@bp.get("/v1/clips/<anytext:clip_id>")
def clip_status(clip_id: str):
    try:
        _, device_id = parse_clip_id(clip_id)
    except BadClipId as err:
        raise ApiError(str(err)) from None
    auth.require_reader(device_id)
    wait = _wait_seconds()
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
            raise ApiError(f"unknown clip {clip_id!r}", 404)
        # Stored by a controller whose ledger is gone, and not finished yet: follow it again,
        # so its completion (or ?wait=) lands here.
        ledger.add(clip_id, device_id, "queued", stored_at)
        row = ledger.wait_final(clip_id, wait) if wait else ledger.get(clip_id)
    result = store.results.get(clip_id)
    if result is not None and not row.final:
        # Finished in S3 while the ledger missed the completion (lost, or consumed before it knew the clip).
        ledger.mark_finished(clip_id, result.status, as_utc(result.finished_at) or utcnow(),
                             processed_by=result.processed_by, error=result.error, result=result)
        row = ledger.get(clip_id)
    return with_links(describe_row(row, result if row.final else None), store)


@bp.get("/v1/stats")
def stats():
    upload_to_result, process = get_ledger().medians()
    body = {"upload_to_result_s": upload_to_result, "process_s": process,
            "queue": {"visible": None, "in_flight": None}, "workers": {"pending": None, "running": None}}
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
