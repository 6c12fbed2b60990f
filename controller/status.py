"""What a clip's status answer says: from the ledger's row or, without one, from the stored result;
a finished clip's answer carries presigned links to its video and snapshot."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from edgecloud.protocol.messages import Result
from edgecloud.protocol.states import FINAL

from .clip_row import ClipRow
from .store import ClipStore


def as_utc(when: Optional[datetime]) -> Optional[datetime]:
    # A time without a zone is taken as UTC, so stored times always compare with each other.
    return when.replace(tzinfo=timezone.utc) if when is not None and when.tzinfo is None else when


def with_links(status: dict, store: ClipStore) -> dict:
    """A finished clip's status gains ``video_url`` and ``snapshot_url``: presigned S3 GETs valid for
    ``controller.link_ttl_s``, so browsers fetch the bytes from S3, not through the controller."""
    if status["status"] not in FINAL:
        return status
    result = status.get("result") or {}
    status["video_url"] = None if status.get("video_dropped") else store.clip_url(status["clip_id"])
    status["snapshot_url"] = store.snapshot_url(result["snapshot_key"]) if result.get("snapshot_key") else None
    return status


def iso(when) -> Optional[str]:
    return when.isoformat() if when else None


def describe_row(row: ClipRow, result: Optional[Result]) -> dict:
    return {
        "clip_id": row.clip_id,
        "device_id": row.device_id,
        "status": row.status,
        "processed_by": row.processed_by,
        "submitted_at": iso(row.submitted_at),
        "finished_at": iso(row.finished_at),
        "upload_to_result_s": row.upload_to_result_s,
        "queued_to_finished_s": queued_to_finished(result),
        "error": row.error,
        "result": result.model_dump(mode="json") if result else None,
        "video_dropped": row.video_dropped,
    }


def queued_to_finished(result: Optional[Result]) -> Optional[float]:
    if result is None or not (result.submitted_at and result.finished_at):
        return None
    return round((as_utc(result.finished_at) - as_utc(result.submitted_at)).total_seconds(), 3)


def describe_result(clip_id: str, device_id: str, result: Result) -> dict:
    # No ledger row: the result's own times are all there is (its submission is when it was queued).
    latency = queued_to_finished(result)
    return {
        "clip_id": clip_id,
        "device_id": device_id,
        "status": result.status,
        "processed_by": result.processed_by,
        "submitted_at": iso(result.submitted_at),
        "finished_at": iso(result.finished_at),
        "upload_to_result_s": latency,
        "queued_to_finished_s": latency,
        "error": result.error,
        "result": result.model_dump(mode="json"),
        "video_dropped": False,  # as far as a result alone tells (the ledger's row says when it was)
    }
