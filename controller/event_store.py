"""What an events store is: ``SqliteEvents`` (controller/events_sqlite.py, beside the SQLite ledger)
and ``DynamoEvents`` (controller/events_dynamo.py, ``tables.events``, shared by every controller)
both satisfy it; tests/controller/test_event_store.py checks both have every method with its signature.

Clips join events where a result is stored, in the one place the completions consumer, the edge's
results at intake and a result found late in S3 all meet: the clip ledger's ``mark_finished``
(``NotesEvents``, mixed into both ledgers), before the clip is marked final, so a crash between
the two leaves the clip unfinished and its retried completion notes it again (noting is idempotent).
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Optional, Protocol, runtime_checkable

from .events import Event, EventClip, event_clip

if TYPE_CHECKING:
    from edgecloud.protocol.messages import Result


@runtime_checkable
class EventStore(Protocol):
    gap_s: float  # events.gap_s

    def add_clip(self, clip: EventClip) -> Event:
        """Place ``clip`` in its event (made, extended or merged); the event it is in now."""

    def event_of(self, clip: EventClip) -> Optional[Event]:
        """The event ``clip`` is in; None before it was added."""

    def get(self, event_id: str) -> Optional[Event]:
        """The event, or the one it was merged into; None if unknown."""

    def search(
        self,
        *,
        device: str = "",
        label: str = "",
        zone: str = "",
        since: Optional[datetime] = None,
        before: Optional[datetime] = None,
        before_id: str = "",
        limit: int = 50,
    ) -> list[Event]:
        """Events newest first (by start, then id), filtered by device, a label or zone seen, started at or
        after ``since`` and before ``before`` (or at it, with an id below ``before_id``: controller/event_pages.py)."""

    def claim(self, event_id: str, mark: str) -> bool:
        """Mark the event (e.g. a rule notified); True only for the first to mark it so, whichever controller."""

    def close(self) -> None:
        """Release the file or connection."""


class NotesEvents:
    """Mixed into both clip ledgers: ``mark_finished`` notes the clip's event through ``events``
    (None: no events kept, e.g. a ledger opened alone in a test)."""

    events: Optional[EventStore] = None

    def _note_event(self, result: Optional["Result"]) -> None:
        if self.events is None or result is None:
            return
        clip = event_clip(result)
        if clip is not None:
            self.events.add_clip(clip)


def open_events(settings, aws=None) -> EventStore:
    """The events store beside the ledger ``controller.ledger`` names."""
    gap_s = settings.events.gap_s
    if settings.controller.ledger == "dynamodb":
        from edgecloud.aws import Aws

        from .events_dynamo import DynamoEvents

        return DynamoEvents(aws or Aws(settings.aws), settings.tables.events, gap_s=gap_s)
    from .events_sqlite import SqliteEvents

    return SqliteEvents.in_dir(settings.controller.data_dir, gap_s=gap_s)
