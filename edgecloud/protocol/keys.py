"""The S3 key layout: ``<kind>/<device>/<yyyy>/<mm>/<dd>/<clip id>.<ext>``, from a checked id alone.

Clips go to the clips bucket; results and snapshots to the results bucket; frames (ids of a
clip id's form) to the frames bucket.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Optional

from .containers import EXTENSIONS
from .ids import BadClipId, ClipId


class KeyKind(StrEnum):
    CLIPS = "clips"
    RESULTS = "results"
    SNAPSHOTS = "snapshots"
    FRAMES = "frames"


# The extension each kind's key ends in; a clip's comes from its content type (EXTENSIONS).
FIXED_EXTENSIONS = {KeyKind.RESULTS: "json", KeyKind.SNAPSHOTS: "jpg", KeyKind.FRAMES: "jpg"}


def key_of(clip_id: str, kind: str, ext: Optional[str] = None) -> str:
    """The key of ``kind`` for ``clip_id`` (checked here unless it is a ClipId already)."""
    kind = KeyKind(kind)
    checked = ClipId(clip_id)
    if kind is KeyKind.CLIPS:
        if ext not in EXTENSIONS:
            raise ValueError(f"clip extension {ext!r} is not one of {sorted(EXTENSIONS)}")
    elif ext not in (None, FIXED_EXTENSIONS[kind]):
        raise ValueError(f"a {kind.value} key ends in .{FIXED_EXTENSIONS[kind]}, not .{ext}")
    else:
        ext = FIXED_EXTENSIONS[kind]
    return f"{kind.value}/{checked.device}/{checked.recorded_at:%Y/%m/%d}/{checked}.{ext}"


def clip_key(clip_id: str, ext: str) -> str:
    return key_of(clip_id, KeyKind.CLIPS, ext)


def result_key(clip_id: str) -> str:
    return key_of(clip_id, KeyKind.RESULTS)


def snapshot_key(clip_id: str) -> str:
    """The clip's snapshot JPEG, in the results bucket beside its result."""
    return key_of(clip_id, KeyKind.SNAPSHOTS)


def frame_key(frame_id: str) -> str:
    """``frames/<device>/<yyyy>/<mm>/<dd>/<frame_id>.jpg``; a frame id has a clip id's form."""
    return key_of(frame_id, KeyKind.FRAMES)


def frame_id_of(key: str) -> Optional[ClipId]:
    """The frame id of a key that is exactly a frame's key; None for any other key."""
    stem = key.rsplit("/", 1)[-1].removesuffix(".jpg")
    try:
        frame_id = ClipId(stem)
    except BadClipId:
        return None
    return frame_id if frame_key(frame_id) == key else None
