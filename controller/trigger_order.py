"""Clips in trigger-time order (when the camera recorded them), from a listing in arrival order.

The DynamoDB ledger's indexes are ordered by arrival (``<submitted_at>|<clip_id>``), but a person
reviewing a camera's clips thinks in the time they happened: a Pi that was offline sends its spooled
clips late, and they belong where they were recorded, not at the top of the list. A clip is always
recorded before it arrives, so once a newest-first walk by arrival has reached arrival time T, no clip
still to come was recorded after T: every clip held back that was recorded at T or later can go out.
The walk reads only as far back as the clips it must place, however late they came.
"""

from __future__ import annotations

from bisect import insort
from typing import Iterable, Iterator

from edgecloud.protocol.ids import ClipId

from .clip_row import ClipRow


def trigger_key(row: ClipRow) -> str:
    """The clip id orders by recorded time (fixed-width UTC stamp first), then device, then random tail."""
    return row.clip_id


def newest_recorded_first(by_arrival: Iterable[ClipRow]) -> Iterator[ClipRow]:
    """``by_arrival`` (newest submitted first) re-ordered newest recorded first."""
    held: list[ClipRow] = []  # ascending by trigger_key: the newest is last
    for row in by_arrival:
        while held and ClipId(held[-1].clip_id).recorded_at >= row.submitted_at:
            yield held.pop()
        insort(held, row, key=trigger_key)
    yield from reversed(held)
