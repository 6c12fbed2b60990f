"""The messages between components (pydantic models): a job, a result, a completion, a frame's answer,
and the metadata of an upload.

Readers ignore fields they do not know (``extra="ignore"``) and every message carries its
schema ``version``, so a newer sender does not break an older reader.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

from ..clock import utcnow
from .ids import DEVICE_RE, ClipId

SCHEMA_VERSION = 1


class Finite(BaseModel):
    """A model whose numbers are all finite: JSON has no NaN or Infinity (``1e400`` reads as inf), and
    one stored would be written back as null, leaving a message no reader can take."""

    model_config = ConfigDict(allow_inf_nan=False)


class Message(Finite):
    model_config = ConfigDict(extra="ignore")
    version: int = SCHEMA_VERSION


class Job(Message):
    """One clip for a worker to process (body of a jobs-queue message)."""

    clip_id: str
    bucket: str
    key: str
    device_id: str = Field(validation_alias=AliasChoices("device_id", "device"))  # "device": jobs of 0.1
    fps: Optional[float] = Field(None, gt=0, le=240)
    content_type: str = "video/mp4"
    recorded_at: datetime
    submitted_at: datetime

    @field_validator("clip_id")
    @classmethod
    def _valid_id(cls, v: str) -> str:
        ClipId(v)
        return v


class LabelSummary(Finite):
    max_count: int = Field(description="Most objects of this label in one frame.")
    frames_seen: int = Field(description="Analysed frames with at least one.")
    best_score: float
    steady_count: Optional[int] = Field(
        None,
        exclude_if=lambda v: v is None,
        description="Most objects of this label that at least two analysed frames showed (Frigate's rule against "
        "false positives: a count seen in one frame only may be a flicker); 0 when only one frame had any.",
    )
    identities: Optional[list[str]] = Field(
        None,
        exclude_if=lambda v: v is None,
        description="Faces: who was seen (enrolled names, and 'unknown'), sorted; absent for other labels.",
    )
    unique: Optional[int] = Field(
        None,
        exclude_if=lambda v: v is None,
        description="Tracked objects of this label: each one counted once, however many frames it crossed, and "
        "only once seen in detector.min_frames analysed frames; absent where no tracker ran.",
    )


class TrackedObject(Finite):
    """One object followed across a clip's analysed frames (one ``track_id``), counted once."""

    track_id: int
    label: str
    first_seen_s: float = Field(description="Seconds from the clip's start.")
    last_seen_s: float
    frames: int = Field(description="Analysed frames it was seen in.")
    best_score: float
    best_box: tuple[float, float, float, float] = Field(
        description="x1, y1, x2, y2 in source pixels, where it scored best."
    )
    best_frame_s: float = Field(description="When it scored best, in seconds from the clip's start.")
    zones: list[str] = Field(default_factory=list, description="Zones its box's bottom centre entered, sorted.")
    stationary: bool = Field(False, description="It barely moved while seen (a parked car, a chair).")


class Detection(Finite):
    t: float = Field(description="Seconds from the clip's start.")
    frame: int
    label: str
    score: float
    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in source pixels.")
    # Only faces carry these; other detections leave them out of the JSON.
    identity: Optional[str] = Field(
        None, exclude_if=lambda v: v is None, description="Faces: the enrolled name, or 'unknown'."
    )
    distance: Optional[float] = Field(
        None, exclude_if=lambda v: v is None, description="Faces: embedding distance to the nearest enrolled face."
    )


class Result(Message):
    """What a clip was found to contain, or why it could not be processed."""

    clip_id: str
    status: Literal["done", "failed"] = "done"
    error: Optional[str] = None
    processed_by: str = Field(description="'edge' or the worker's instance id.")
    detector: str
    labels: str = Field("", description="Sorted labels found, comma-separated, e.g. 'car,person'.")
    frames_total: int = 0
    frames_analysed: int = 0
    frames_skipped: int = 0
    summary: dict[str, LabelSummary] = Field(default_factory=dict)
    detections: list[Detection] = Field(default_factory=list)
    objects: list[TrackedObject] = Field(default_factory=list, description="Tracked objects, by first_seen_s.")
    timings: dict[str, float] = Field(
        default_factory=dict, description="Seconds: download, decode, motion, detect, total."
    )
    recorded_at: Optional[datetime] = None
    submitted_at: Optional[datetime] = None
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    snapshot_key: Optional[str] = Field(None, description="S3 key (results bucket) of the snapshot JPEG, if any.")

    @property
    def best_score(self) -> float:
        return max((s.best_score for s in self.summary.values()), default=0.0)


class Completion(Message):
    """A worker's note on the completions queue that a job has ended (or started)."""

    event: Literal["started", "done", "failed"]
    clip_id: str
    processed_by: str
    result_key: Optional[str] = None
    at: datetime = Field(default_factory=utcnow)
    process_s: Optional[float] = None


class FrameAnswer(Message):
    """The function's answer to one frame, on its device's answers queue."""

    frame_id: str
    device: str
    processed_by: str
    labels: str = ""
    detections: list[Detection] = Field(default_factory=list)
    objects: list[TrackedObject] = Field(default_factory=list, description="Tracked objects, by first_seen_s.")
    identities: list[dict] = Field(default_factory=list, description="Recognised people and their records.")
    error: Optional[str] = None
    answered_at: datetime = Field(default_factory=utcnow)
    process_s: Optional[float] = None


class UploadMetadata(Finite):
    """The ``metadata`` form field of POST /v1/clips."""

    model_config = ConfigDict(extra="ignore")

    clip_id: Optional[str] = Field(None, description="Edge-made id (ClipId.new); made here when absent.")
    device_id: str = Field(max_length=32)
    recorded_at: Optional[datetime] = None
    fps: Optional[float] = Field(None, gt=0, le=240)
    content_type: Optional[str] = None
    video_dropped: bool = Field(
        False,
        description=(
            "The Pi's spool dropped this clip's video (it was over edge.spool_max_mb): the upload has no 'clip' "
            "part, only this record, and the Pi's result and snapshot if it analysed the clip. Needs clip_id."
        ),
    )

    @field_validator("device_id")
    @classmethod
    def _device_id(cls, v: str) -> str:
        if not DEVICE_RE.fullmatch(v):
            raise ValueError(f"must match {DEVICE_RE.pattern} (lowercase ASCII letters, digits, '-')")
        return v
