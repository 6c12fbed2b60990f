"""What travels between edge, controller and worker: clip ids, S3 keys, messages, results.

A clip id is ``<UTC time>_<device>_<random>``, e.g. ``20261124T113500123Z_pi-01_3fa9c2d1``:
sortable by time, unique, and safe in an S3 key and a file name. Every key is
derived from the clip id alone, after checking it, so no client input ever
reaches a key or a path unchecked.
"""
from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timezone
from typing import Literal, Optional

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator

SCHEMA_VERSION = 1
# ASCII only and matched whole (fullmatch): "\\d" would take other scripts' digits, "$" a trailing newline.
DEVICE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}", re.ASCII)
CLIP_ID_RE = re.compile(r"(?P<time>[0-9]{8}T[0-9]{9}Z)_(?P<device>[a-z0-9][a-z0-9-]{0,31})_(?P<rand>[0-9a-f]{8})",
                        re.ASCII)
# Content types a clip may have, and the extension its key gets.
CLIP_TYPES = {"video/mp4": "mp4", "video/h264": "h264", "video/x-msvideo": "avi"}
EXTENSIONS = {ext: ctype for ctype, ext in CLIP_TYPES.items()}


# How each container starts: MP4 (ISO BMFF) has its 'ftyp' box first, raw H.264 (Annex B) a start
# code, AVI a RIFF header of form 'AVI '.
def _is_mp4(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


def _is_annex_b(head: bytes) -> bool:
    return head.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))


def _is_avi(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"AVI "


CONTAINER_CHECKS = {"video/mp4": (_is_mp4, "an MP4 'ftyp' box at byte 4"),
                    "video/h264": (_is_annex_b, "an H.264 Annex B start code (00 00 01)"),
                    "video/x-msvideo": (_is_avi, "a 'RIFF....AVI ' header")}
SNIFF_BYTES = 12


def container_mismatch(content_type: str, head: bytes) -> Optional[str]:
    """Why the clip's first bytes are not the container ``content_type`` claims; None if they are."""
    is_it, expected = CONTAINER_CHECKS[content_type]
    if is_it(head):
        return None
    return f"the clip is not {content_type}: expected {expected}, found {head[:SNIFF_BYTES].hex(' ')!r}"


class BadClipId(ValueError):
    pass


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def shown(value, most: int = 80) -> str:
    """``repr`` of a value for an error message, cut to ``most`` characters: a hostile 4 KB id is not echoed whole."""
    text = repr(value)
    return text if len(text) <= most else f"{text[:most]}... ({len(text)} characters)"


def check_device_id(device_id: str) -> str:
    """The device id when it is one (the whole of it matches DEVICE_RE); ValueError otherwise."""
    if not DEVICE_RE.fullmatch(device_id or ""):
        raise ValueError(f"device id {shown(device_id)} must match {DEVICE_RE.pattern}")
    return device_id


def new_clip_id(device_id: str, when: datetime | None = None) -> str:
    check_device_id(device_id)
    when = (when or utcnow()).astimezone(timezone.utc)
    stamp = when.strftime("%Y%m%dT%H%M%S") + f"{when.microsecond // 1000:03d}Z"
    return f"{stamp}_{device_id}_{secrets.token_hex(4)}"


def parse_clip_id(clip_id: str) -> tuple[datetime, str]:
    """(recorded time, device) of a valid clip id; BadClipId otherwise."""
    m = CLIP_ID_RE.fullmatch(clip_id) if isinstance(clip_id, str) else None
    if not m:
        raise BadClipId(f"not a clip id: {shown(clip_id)}")
    t = m["time"]
    try:
        when = datetime(int(t[0:4]), int(t[4:6]), int(t[6:8]), int(t[9:11]), int(t[11:13]), int(t[13:15]),
                        int(t[15:18]) * 1000, tzinfo=timezone.utc)
    except ValueError as err:  # the form of a time, but none that exists: month 13, 30 February, 25:61
        raise BadClipId(f"not a clip id: {shown(clip_id)} names no real time ({err})") from None
    return when, m["device"]


def clip_id_in(body: str) -> Optional[str]:
    """The valid clip id a message body names (a job, a completion, a dead letter), even
    when the rest of the message is malformed; None when it names none."""
    try:
        clip_id = json.loads(body).get("clip_id")
        parse_clip_id(clip_id)
    except (ValueError, AttributeError, TypeError):  # BadClipId and JSONDecodeError are ValueErrors
        return None
    return clip_id


def _prefix(kind: str, clip_id: str) -> str:
    when, device = parse_clip_id(clip_id)
    return f"{kind}/{device}/{when:%Y/%m/%d}/{clip_id}"


def clip_key(clip_id: str, ext: str) -> str:
    if ext not in EXTENSIONS:
        raise ValueError(f"clip extension {ext!r} is not one of {sorted(EXTENSIONS)}")
    return f"{_prefix('clips', clip_id)}.{ext}"


def result_key(clip_id: str) -> str:
    return f"{_prefix('results', clip_id)}.json"


def snapshot_key(clip_id: str) -> str:
    """The clip's snapshot JPEG, in the results bucket beside its result."""
    return f"{_prefix('snapshots', clip_id)}.jpg"


def frame_key(frame_id: str) -> str:
    """``frames/<device>/<yyyy>/<mm>/<dd>/<frame_id>.jpg``; a frame id has a clip id's form."""
    return f"{_prefix('frames', frame_id)}.jpg"


def frame_id_of(key: str) -> Optional[str]:
    """The frame id of a key that is exactly a frame's key; None for any other key."""
    stem = key.rsplit("/", 1)[-1].removesuffix(".jpg")
    try:
        return stem if frame_key(stem) == key else None
    except BadClipId:
        return None


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
        parse_clip_id(v)
        return v


class LabelSummary(Finite):
    max_count: int = Field(description="Most objects of this label in one frame.")
    frames_seen: int = Field(description="Analysed frames with at least one.")
    best_score: float
    steady_count: Optional[int] = Field(
        None, exclude_if=lambda v: v is None,
        description="Most objects of this label that at least two analysed frames showed (Frigate's rule against "
        "false positives: a count seen in one frame only may be a flicker); 0 when only one frame had any.",
    )
    identities: Optional[list[str]] = Field(
        None, exclude_if=lambda v: v is None,
        description="Faces: who was seen (enrolled names, and 'unknown'), sorted; absent for other labels.",
    )


class Detection(Finite):
    t: float = Field(description="Seconds from the clip's start.")
    frame: int
    label: str
    score: float
    box: tuple[float, float, float, float] = Field(description="x1, y1, x2, y2 in source pixels.")
    # Only faces carry these; other detections leave them out of the JSON.
    identity: Optional[str] = Field(None, exclude_if=lambda v: v is None,
                                    description="Faces: the enrolled name, or 'unknown'.")
    distance: Optional[float] = Field(None, exclude_if=lambda v: v is None,
                                      description="Faces: embedding distance to the nearest enrolled face.")


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
    timings: dict[str, float] = Field(default_factory=dict, description="Seconds: download, decode, motion, detect, total.")
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
    identities: list[dict] = Field(default_factory=list, description="Recognised people and their records.")
    error: Optional[str] = None
    answered_at: datetime = Field(default_factory=utcnow)
    process_s: Optional[float] = None


def steady_count(per_frame_counts) -> int:
    """The most objects at least two frames showed: the second-highest per-frame count (0 with one frame)."""
    counts = sorted(per_frame_counts, reverse=True)
    return counts[1] if len(counts) > 1 else 0


def summarise(detections: list[Detection]) -> tuple[str, dict[str, LabelSummary]]:
    """The `labels` string and per-label summary of a list of detections."""
    per_frame: dict[str, dict[int, int]] = {}
    best: dict[str, float] = {}
    seen: dict[str, set[str]] = {}
    for d in detections:
        per_frame.setdefault(d.label, {}).setdefault(d.frame, 0)
        per_frame[d.label][d.frame] += 1
        best[d.label] = max(best.get(d.label, 0.0), d.score)
        if d.identity is not None:
            seen.setdefault(d.label, set()).add(d.identity)
    summary = {
        label: LabelSummary(max_count=max(frames.values()), frames_seen=len(frames), best_score=round(best[label], 4),
                            steady_count=steady_count(frames.values()),
                            identities=sorted(seen[label]) if label in seen else None)
        for label, frames in sorted(per_frame.items())
    }
    return ",".join(summary), summary
