"""The response bodies of the API as pydantic models: what the views in ``api`` answer.

Apart from ``openapi_paths`` because these are data (each becomes a schema under
``components``), while the paths say which route answers which status with them.
"""

from __future__ import annotations

from typing import Optional

from pydantic import BaseModel, Field

from edgecloud.protocol.messages import Result


class Error(BaseModel):
    """Every refusal: what was wrong."""

    error: str


class UploadAccepted(BaseModel):
    """201 to POST /v1/clips (also for a clip the controller had already: ``duplicate``)."""

    clip_id: str
    status: str = Field(description="queued, processing, done, failed or dropped")
    duplicate: bool
    status_url: str


class ClipStatus(BaseModel):
    """GET /v1/clips/{clip_id}: where a clip is, and its result once final."""

    clip_id: str
    device_id: str
    status: str = Field(
        description="queued, processing, done, failed or dropped (final: the Pi's spool dropped "
        "the video and the Pi had no result, so only the record came)"
    )
    processed_by: Optional[str] = Field(description="edge, or the worker's instance id")
    submitted_at: Optional[str]
    finished_at: Optional[str]
    upload_to_result_s: Optional[float]
    queued_to_finished_s: Optional[float]
    error: Optional[str]
    result: Optional[Result]
    video_dropped: bool = Field(
        False,
        description="The record came without its video (the Pi's spool, over its "
        "cap, dropped it): video_url is null; a result, if any, is the Pi's",
    )


class Counts(BaseModel):
    visible: Optional[int] = None
    in_flight: Optional[int] = None
    pending: Optional[int] = None
    running: Optional[int] = None


class Leader(BaseModel):
    """Which controller holds the autoscaler lease (null: none now) and whether it is this one."""

    leader: Optional[str]
    this_controller: str
    leading: bool
    expires_in_s: Optional[float]


class NotReadyWorker(BaseModel):
    """A worker that cannot load its detector: it took no job and exited (its supervisor restarts it)."""

    worker_id: str = Field(description="Instance id, pod:<name> or local-<host>-<pid>")
    reason: str
    seen_at: str = Field(description="When it last reported (ISO 8601, UTC)")


class Stats(BaseModel):
    """GET /v1/stats: recent medians, queue depth and workers (null when unknown)."""

    upload_to_result_s: Optional[float]
    process_s: Optional[float]
    queue: Counts
    workers: Counts
    autoscaler: Optional[Leader] = None
    not_ready: Optional[list[NotReadyWorker]] = Field(
        None, description="Workers not ready in the last 15 minutes (operators; null for devices)"
    )
    videos_dropped: int = Field(
        0,
        description="Clips whose record arrived without its video (the Pi's spool dropped it; metadata.video_dropped)",
    )


class Health(BaseModel):
    ok: bool
