"""Which events a page of ``GET /v1/events`` holds: a ``Window`` on their start, read newest first.

The order is ``(started_at, event_id)``, both descending, in either store. A client pages back with
the cursor the last page ends at: ``before`` (its oldest event's start, exclusive) and ``before_id``
(that event's id), which lets in the events that started at that same instant but sort after it.
Two events can share a start only in theory (an event id carries its first clip's millisecond
time, device and random suffix), but with the pair none is skipped or listed twice at a page's
edge, however many share it; ``before`` alone keeps strictly older events only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cached_property
from itertools import groupby
from typing import Iterable, Iterator, Optional

from .clip_row import iso  # as both stores write a start: fixed width, so text order is time order


@dataclass(frozen=True)
class Window:
    since: Optional[datetime] = None  # started at or after
    before: Optional[datetime] = None  # started before, or at this instant with an id below before_id
    before_id: str = ""

    @cached_property
    def low(self) -> Optional[str]:
        """``since`` as the stores write a start (None: no lower bound); computed once, compared per item."""
        return iso(self.since) if self.since else None

    @cached_property
    def high(self) -> Optional[str]:
        """``before`` as the stores write a start (None: no upper bound)."""
        return iso(self.before) if self.before else None

    @property
    def empty(self) -> bool:
        return self.since is not None and self.before is not None and self.since > self.before

    def admits(self, started_at: str, event_id: str) -> bool:
        """Whether an event starting at ``started_at`` (as ``iso`` writes it) is in the window."""
        if self.low is not None and started_at < self.low:
            return False
        if self.high is None:
            return True
        return started_at < self.high or (started_at == self.high and event_id < self.before_id)

    def sql(self) -> tuple[list[str], list[str]]:
        """SQLite: the WHERE clauses (on ``started_at`` and ``event_id``) and their parameters."""
        where, params = [], []
        if self.low is not None:
            where.append("started_at >= ?")
            params.append(self.low)
        if self.high is not None:
            where.append("(started_at < ? OR (started_at = ? AND event_id < ?))")
            params += [self.high, self.high, self.before_id]
        return where, params

    def key_condition(self) -> tuple[str, dict[str, str]]:
        """DynamoDB: the range part of an index's key condition (``#r``: ``started_at``), ``before``
        included (a key condition has one range clause): ``admits`` then drops its instant's ties."""
        low, high = self.low, self.high
        if low and high:
            return " AND #r BETWEEN :r AND :b", {":r": low, ":b": high}
        if low:
            return " AND #r >= :r", {":r": low}
        if high:
            return " AND #r <= :b", {":b": high}
        return "", {}

    def days(self, first_day: Optional[str], today: date) -> list[str]:
        """The days (YYYY-MM-DD) events in the window may have started on, newest first: from
        ``before``'s or tomorrow (a device's clock a little ahead) back to ``since``'s or ``first_day``."""
        if first_day is None:
            return []  # no event yet
        start = max(date.fromisoformat(first_day), self.since.date() if self.since else date.min)
        last = min(today + timedelta(days=1), self.before.date() if self.before else date.max)
        return [(last - timedelta(days=n)).isoformat() for n in range((last - start).days + 1)]


def newest_first(items: Iterable[dict]) -> Iterator[dict]:
    """DynamoDB items as an index on ``started_at`` returns them, descending, with the order of
    items that share a start (which DynamoDB leaves open) made SQLite's: event id descending."""
    for _, same in groupby(items, key=lambda i: i["started_at"]["S"]):
        yield from sorted(same, key=lambda i: i["event_id"]["S"], reverse=True)
