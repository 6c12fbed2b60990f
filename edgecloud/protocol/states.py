"""A clip's status as the controller reports it, and where the Pi's scheduler sent it.

Both are ``StrEnum``: a member is the very string the wire, the ledgers and ``--json`` carry.
"""

from __future__ import annotations

from enum import StrEnum


class ClipStatus(StrEnum):
    STORING = "storing"  # its upload is being stored: the job (or the edge's result) is not in yet
    QUEUED = "queued"  # its job is sent
    PROCESSING = "processing"
    DONE = "done"
    FAILED = "failed"
    # The Pi's spool dropped the clip's video (over its cap) and only its record came; with the
    # Pi's result it is 'done' or 'failed' instead, ``video_dropped`` either way.
    DROPPED = "dropped"


# A clip in one of these has ended: its status will not change again. A tuple: SQL binds it in order.
FINAL = (ClipStatus.DONE, ClipStatus.FAILED, ClipStatus.DROPPED)


class Placement(StrEnum):
    """Where the Pi's scheduler sent a clip."""

    EDGE = "edge"
    CLOUD = "cloud"
    BOTH = "both"  # escalated: processed on the Pi, then sent to the cloud too
