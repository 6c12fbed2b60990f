"""What a clip ledger is: the one interface the API, dashboard, intake, quotas, reconcile
and scaling code use, whichever ledger ``controller.ledger`` picks.

``Ledger`` (SQLite, controller/ledger.py: one controller) and ``DynamoLedger``
(DynamoDB, controller/ledger_dynamo.py: any number of controllers) both satisfy
it; tests/controller/test_clip_ledger.py checks every method here exists on both
with this signature. Times are timezone-aware UTC datetimes. ``open_ledger`` opens
the one the settings name.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Optional, Protocol, runtime_checkable

if TYPE_CHECKING:
    from edgecloud.protocol.messages import Result

    from .clip_row import ClipRow
    from .event_store import EventStore


@runtime_checkable
class ClipLedger(Protocol):
    events: Optional[EventStore]  # where mark_finished places clips with tracked objects (controller/event_store.py)

    # Writes: each returns False (and changes nothing) when the clip is not where the step starts.
    def add(
        self,
        clip_id: str,
        device_id: str,
        status: str,
        submitted_at: datetime,
        *,
        processed_by: Optional[str] = None,
        finished_at: Optional[datetime] = None,
        error: Optional[str] = None,
        video_dropped: bool = False,
    ) -> bool:
        """Record a new clip; False if the id is known already."""

    def forget(self, clip_id: str) -> None:
        """Drop a clip whose upload never completed."""

    def mark_queued(self, clip_id: str) -> bool:
        """storing -> queued."""

    def mark_started(self, clip_id: str, at: datetime, processed_by: str) -> bool:
        """queued -> processing, by ``processed_by``."""

    def mark_finished(
        self,
        clip_id: str,
        status: str,
        at: datetime,
        *,
        processed_by: Optional[str] = None,
        process_s: Optional[float] = None,
        error: Optional[str] = None,
        result: Optional[Result] = None,
    ) -> bool:
        """Any non-final state -> ``status`` (a final one); the first final state wins."""

    def reopen(self, clip_id: str) -> bool:
        """failed -> queued again, its outcome cleared (``edgecloud clips retry``)."""

    # Reads.
    def get(self, clip_id: str) -> Optional[ClipRow]:
        """The clip as it stands now (strongly consistent)."""

    def in_status(self, status: str, *, device: str = "", since: Optional[datetime] = None) -> list[ClipRow]:
        """Clips in ``status``, optionally of one device and submitted since ``since``."""

    def storing_since_before(self, when: datetime) -> list[ClipRow]:
        """Uploads still storing that began before ``when`` (to reconcile)."""

    def recent_cloud(self, limit: int = 50) -> list[ClipRow]:
        """The last ``limit`` clips a cloud worker finished, newest first."""

    def medians(self, limit: int = 50) -> tuple[Optional[float], Optional[float]]:
        """Median upload-to-result and processing seconds of the recent cloud clips."""

    def cloud_submissions(self, since: datetime) -> tuple[int, Optional[datetime]]:
        """How many clips arrived since ``since``, and when the newest arrived."""

    def search(
        self, *, device: str = "", label: str = "", status: str = "", day: str = "", limit: int = 25, offset: int = 0
    ) -> list[ClipRow]:
        """A page of clips, newest recorded (triggered) first, filtered by what is given (``day``: recorded)."""

    def finished_since(self, since: datetime) -> list[ClipRow]:
        """Clips finished since ``since`` (the latency chart)."""

    def devices(self, today: datetime) -> list[dict]:
        """Each device with its last upload and its count of clips ``today``."""

    def first_submitted(self) -> Optional[datetime]:
        """When the oldest clip was submitted; None for an empty ledger."""

    def oldest_submitted(self, statuses: tuple[str, ...]) -> Optional[datetime]:
        """When the oldest clip in any of ``statuses`` was submitted."""

    def videos_dropped(self) -> int:
        """Clips final without their video (the Pi dropped it)."""

    def counts(self) -> dict[str, int]:
        """Clips by status."""

    # Waiting for a clip to be final (``GET /v1/clips/<id>?wait=``).
    def wait_final(self, clip_id: str, timeout: float):
        """The clip once final, or as it stands after ``timeout`` seconds."""

    @property
    def waiting(self) -> int:
        """How many requests wait now."""

    def waited_ids(self) -> list[str]:
        """The clips someone waits for."""

    def wait_for_waiters(self, n: int, timeout: float) -> bool:
        """True once ``n`` requests wait, False after ``timeout`` seconds."""

    def release_waiters(self) -> None:
        """Wake every waiter (shutdown)."""

    def close(self) -> None:
        """Release the file or connection; waiters are woken."""


def open_ledger(settings, aws=None) -> ClipLedger:
    """The ledger ``controller.ledger`` names: SQLite in ``data_dir`` (one controller), or the
    DynamoDB table ``tables.clips`` that any number of controllers share."""
    from .event_store import open_events

    if settings.controller.ledger == "dynamodb":
        from edgecloud.aws import Aws

        from .ledger_dynamo import DynamoLedger

        ledger: ClipLedger = DynamoLedger(aws or Aws(settings.aws), settings.tables.clips)
    else:
        from .ledger import Ledger

        ledger = Ledger.in_dir(settings.controller.data_dir)
    ledger.events = open_events(settings, aws)  # clips with objects join events as they finish
    return ledger
