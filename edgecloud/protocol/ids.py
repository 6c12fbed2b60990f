"""Clip ids and device ids.

A clip id is ``<UTC time>_<device>_<random>``, e.g. ``20261124T113500123Z_pi-01_3fa9c2d1``:
sortable by time, unique, and safe in an S3 key and a file name. It is parsed once, where it
enters (a request, a message, a directory name), into a :class:`ClipId`, which carries its
device and recorded time and derives its S3 keys, so no client input reaches a key unchecked.
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import datetime, timezone
from enum import StrEnum
from typing import Optional

from ..clock import utcnow
from ..shown import shown
from .containers import EXTENSIONS

# ASCII only and matched whole (fullmatch): "\\d" would take other scripts' digits, "$" a trailing newline.
DEVICE_RE = re.compile(r"[a-z0-9][a-z0-9-]{0,31}", re.ASCII)
CLIP_ID_RE = re.compile(
    r"(?P<time>[0-9]{8}T[0-9]{9}Z)_(?P<device>[a-z0-9][a-z0-9-]{0,31})_(?P<rand>[0-9a-f]{8})", re.ASCII
)


class BadClipId(ValueError):
    pass


class KeyKind(StrEnum):
    """What an S3 key holds: ``<kind>/<device>/<yyyy>/<mm>/<dd>/<clip id>.<ext>`` (see keys.py)."""

    CLIPS = "clips"
    RESULTS = "results"
    SNAPSHOTS = "snapshots"
    FRAMES = "frames"


# The extension each kind's key ends in; a clip's comes from its content type (EXTENSIONS).
FIXED_EXTENSIONS = {KeyKind.RESULTS: "json", KeyKind.SNAPSHOTS: "jpg", KeyKind.FRAMES: "jpg"}


def check_device_id(device_id: str) -> str:
    """The device id when it is one (the whole of it matches DEVICE_RE); ValueError otherwise."""
    if not DEVICE_RE.fullmatch(device_id or ""):
        raise ValueError(f"device id {shown(device_id)} must match {DEVICE_RE.pattern}")
    return device_id


class ClipId(str):
    """A checked clip id: still the string it was (JSON, keys and file names see no change),
    with its ``device`` and ``recorded_at`` parsed once and its S3 keys (``.key(kind)``).
    ``ClipId(text)`` raises :class:`BadClipId` for anything that is not one."""

    device: str
    recorded_at: datetime

    def __new__(cls, text) -> "ClipId":
        if isinstance(text, ClipId):
            return text
        m = CLIP_ID_RE.fullmatch(text) if isinstance(text, str) else None
        if not m:
            raise BadClipId(f"not a clip id: {shown(text)}")
        t = m["time"]
        try:
            when = datetime(
                int(t[0:4]),
                int(t[4:6]),
                int(t[6:8]),
                int(t[9:11]),
                int(t[11:13]),
                int(t[13:15]),
                int(t[15:18]) * 1000,
                tzinfo=timezone.utc,
            )
        except ValueError as err:  # the form of a time, but none that exists: month 13, 30 February, 25:61
            raise BadClipId(f"not a clip id: {shown(text)} names no real time ({err})") from None
        self = super().__new__(cls, text)
        self.device = m["device"]
        self.recorded_at = when
        return self

    @classmethod
    def new(cls, device_id: str, when: Optional[datetime] = None) -> "ClipId":
        """A fresh id for a clip ``device_id`` recorded at ``when`` (now by default)."""
        check_device_id(device_id)
        when = (when or utcnow()).astimezone(timezone.utc)
        stamp = when.strftime("%Y%m%dT%H%M%S") + f"{when.microsecond // 1000:03d}Z"
        return cls(f"{stamp}_{device_id}_{secrets.token_hex(4)}")

    def key(self, kind: str, ext: Optional[str] = None) -> str:
        """This clip's S3 key of ``kind`` (a clip's ``ext`` from its content type; the others' fixed)."""
        kind = KeyKind(kind)
        if kind is KeyKind.CLIPS:
            if ext not in EXTENSIONS:
                raise ValueError(f"clip extension {ext!r} is not one of {sorted(EXTENSIONS)}")
        elif ext not in (None, FIXED_EXTENSIONS[kind]):
            raise ValueError(f"a {kind.value} key ends in .{FIXED_EXTENSIONS[kind]}, not .{ext}")
        else:
            ext = FIXED_EXTENSIONS[kind]
        return f"{kind.value}/{self.device}/{self.recorded_at:%Y/%m/%d}/{self}.{ext}"

    def __reduce__(self):  # pickles (multiprocessing) as the checked string it is
        return (ClipId, (str(self),))


def new_clip_id(device_id: str, when: Optional[datetime] = None) -> ClipId:
    return ClipId.new(device_id, when)


def parse_clip_id(clip_id: str) -> tuple[datetime, str]:
    """(recorded time, device) of a valid clip id; BadClipId otherwise."""
    checked = ClipId(clip_id)
    return checked.recorded_at, checked.device


def clip_id_in(body: str) -> Optional[ClipId]:
    """The valid clip id a message body names (a job, a completion, a dead letter), even
    when the rest of the message is malformed; None when it names none."""
    try:
        return ClipId(json.loads(body).get("clip_id"))
    except (ValueError, AttributeError, TypeError):  # BadClipId and JSONDecodeError are ValueErrors
        return None
