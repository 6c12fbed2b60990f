"""The S3 key layout: ``<kind>/<device>/<yyyy>/<mm>/<dd>/<clip id>.<ext>``, from a checked id alone
(``ClipId.key`` builds it; these name each kind's key for callers holding a plain string).

Clips go to the clips bucket; results and snapshots to the results bucket; frames (ids of a
clip id's form) to the frames bucket.
"""

from __future__ import annotations

from typing import Optional

from .ids import FIXED_EXTENSIONS, BadClipId, ClipId, KeyKind

__all__ = [
    "FIXED_EXTENSIONS",
    "KeyKind",
    "clip_key",
    "frame_id_of",
    "frame_key",
    "key_of",
    "result_key",
    "snapshot_key",
]


def key_of(clip_id: str, kind: str, ext: Optional[str] = None) -> str:
    """The key of ``kind`` for ``clip_id`` (checked here unless it is a ClipId already)."""
    return ClipId(clip_id).key(kind, ext)


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
