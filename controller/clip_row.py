"""One clip as a ledger knows it (``ClipRow``), and the time text both ledgers store and compare.

Apart from either ledger because everything that reads clips shares it: the SQLite and DynamoDB
ledgers answer with it, their queries and reopening build it, and intake, the status answer and
``trigger_order`` read it, none of which should need the SQLite ledger to be imported to do so.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Optional

from edgecloud.protocol.ids import ClipId
from edgecloud.protocol.states import FINAL


@dataclass(frozen=True)
class ClipRow:
    """One clip as the ledger knows it."""

    clip_id: str
    device_id: str
    status: str
    submitted_at: datetime
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    processed_by: Optional[str] = None
    upload_to_result_s: Optional[float] = None
    process_s: Optional[float] = None
    error: Optional[str] = None
    label_counts: dict = field(default_factory=dict)  # label -> most seen in one frame
    snapshot_key: Optional[str] = None
    video_dropped: bool = False  # the record came without its video (the Pi's spool dropped it)

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def recorded_at(self) -> datetime:  # when the camera recorded it (its trigger time): the clip id's time
        return ClipId(self.clip_id).recorded_at


def iso(when: Optional[datetime]) -> Optional[str]:
    """A time as the ledgers store it. Fixed width, so text order is time order (SQL comparisons, index keys)."""
    return when.isoformat(timespec="microseconds") if when else None
