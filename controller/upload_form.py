"""What an upload's form says, parsed and checked before anything is kept: its metadata, the clip
id it names, the Pi's result and snapshot when the Pi analysed the clip, and the clip's size."""

from __future__ import annotations

import json
import math
from typing import Optional

from flask import request
from pydantic import ValidationError

from edgecloud.protocol.ids import BadClipId, ClipId
from edgecloud.protocol.messages import Result, UploadMetadata
from edgecloud.shown import shown
from edgecloud.snapshot import is_jpeg

from .errors import Refused
from .status import as_utc

MAX_SNAPSHOT_BYTES = 1024 * 1024


def pydantic_message(err: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in err.errors())


def _not_json(constant: str):
    # Python's json reads NaN and Infinity; JSON has neither, and a stored NaN reads back as null.
    raise ValueError(f"{constant} is not a JSON number")


def _finite(number: str) -> float:
    # 1e400 is JSON, but it reads as inf: as bad as Infinity, wherever in the field it is.
    value = float(number)
    if not math.isfinite(value):
        raise ValueError(f"{shown(number)} is not a finite number")
    return value


def _json_field(name: str, required: bool) -> Optional[str]:
    raw = request.form.get(name)
    if raw is None or raw.strip() == "":
        if required:
            raise Refused(f"missing form field {name!r} (JSON)")
        return None
    try:
        json.loads(raw, parse_constant=_not_json, parse_float=_finite)
    except ValueError as err:
        raise Refused(f"form field {name!r} is not valid JSON: {err}") from None
    return raw


def _utc_times(result: Result) -> Result:
    fields = ("recorded_at", "submitted_at", "started_at", "finished_at")
    return result.model_copy(update={f: as_utc(getattr(result, f)) for f in fields})


def upload_size(stream) -> int:
    stream.seek(0, 2)
    size = stream.tell()
    stream.seek(0)
    return size


def upload_metadata() -> UploadMetadata:
    try:
        meta = UploadMetadata.model_validate_json(_json_field("metadata", required=True))
    except ValidationError as err:
        raise Refused(f"bad metadata: {pydantic_message(err)}") from None
    return meta.model_copy(update={"recorded_at": as_utc(meta.recorded_at)})


def clip_id_of(meta: UploadMetadata) -> ClipId:
    """The upload's clip id, parsed here once (where it enters); made here when the metadata has none."""
    if meta.clip_id is None:
        return ClipId.new(meta.device_id)
    try:
        clip_id = ClipId(meta.clip_id)
    except BadClipId as err:
        raise Refused(str(err)) from None
    if clip_id.device != meta.device_id:
        raise Refused(f"clip id {meta.clip_id!r} belongs to device {clip_id.device!r}, not {meta.device_id!r}")
    return clip_id


def edge_result(meta: UploadMetadata, clip_id: str) -> Optional[Result]:
    raw_result = _json_field("result", required=False)
    if raw_result is None:
        return None
    try:
        result = Result.model_validate_json(raw_result)
    except ValidationError as err:
        raise Refused(f"bad result: {pydantic_message(err)}") from None
    if meta.clip_id is None or result.clip_id != clip_id:
        raise Refused(f"result is for clip {shown(result.clip_id)}; metadata.clip_id must name the same clip")
    return _utc_times(result)


def snapshot_upload(result: Optional[Result]) -> Optional[bytes]:
    """The edge's snapshot JPEG (file field ``snapshot``), only beside its result."""
    upload = request.files.get("snapshot")
    if upload is None:
        return None
    if result is None:
        raise Refused("a snapshot comes only with the edge's result")
    data = upload.stream.read(MAX_SNAPSHOT_BYTES + 1)
    if len(data) > MAX_SNAPSHOT_BYTES:
        raise Refused(f"snapshot is over {MAX_SNAPSHOT_BYTES} bytes", 413)
    if not is_jpeg(data):
        raise Refused("snapshot is not a JPEG", 415)
    return data
