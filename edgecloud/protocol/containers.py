"""The content types a clip may have, the extension its key gets, and how each container starts.

MP4 (ISO BMFF) has its 'ftyp' box first, raw H.264 (Annex B) a start code, AVI a RIFF header
of form 'AVI '. The controller checks a clip's first bytes against its claimed type.
"""

from __future__ import annotations

from typing import Optional

CLIP_TYPES = {"video/mp4": "mp4", "video/h264": "h264", "video/x-msvideo": "avi"}
EXTENSIONS = {ext: ctype for ctype, ext in CLIP_TYPES.items()}


def _is_mp4(head: bytes) -> bool:
    return head[4:8] == b"ftyp"


def _is_annex_b(head: bytes) -> bool:
    return head.startswith((b"\x00\x00\x00\x01", b"\x00\x00\x01"))


def _is_avi(head: bytes) -> bool:
    return head[:4] == b"RIFF" and head[8:12] == b"AVI "


CONTAINER_CHECKS = {
    "video/mp4": (_is_mp4, "an MP4 'ftyp' box at byte 4"),
    "video/h264": (_is_annex_b, "an H.264 Annex B start code (00 00 01)"),
    "video/x-msvideo": (_is_avi, "a 'RIFF....AVI ' header"),
}
SNIFF_BYTES = 12


def container_mismatch(content_type: str, head: bytes) -> Optional[str]:
    """Why the clip's first bytes are not the container ``content_type`` claims; None if they are."""
    is_it, expected = CONTAINER_CHECKS[content_type]
    if is_it(head):
        return None
    return f"the clip is not {content_type}: expected {expected}, found {head[:SNIFF_BYTES].hex(' ')!r}"
