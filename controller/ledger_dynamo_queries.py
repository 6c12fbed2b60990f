"""The DynamoDB clip ledger's queries, and the item codec they and the writes share.

Each query is a Query on one index partition (see ``edgecloud.clip_table``),
never a Scan; what each costs, in items read:

- ``storing_since_before``: the clips storing now (a handful; ``by_status``).
- ``cloud_submissions``: the clips of the rate window (``by_day``, one or two days);
  when none, back day by day to the newest cloud clip.
- ``recent_cloud`` / ``medians``: the newest finished clips until ``limit`` cloud ones
  (``by_finished``, today first, then earlier days).
- ``finished_since``: the clips finished since then (``by_finished``, a day or two).
- ``search``: one device's (``by_device``) or one status's (``by_status``) clips, or day
  after day back from today (``by_day``), newest first by arrival, re-ordered by recorded
  time (``controller.trigger_order``), until offset + limit match; the clips recorded on one
  day: the ``by_day`` partitions of that day and the LATE_DAYS after it.
- ``devices``: one item per device (markers in ``by_status``) plus, per device, a
  count of today's keys (``by_device``).
- ``counts``: five counts on ``by_status``; a Select=COUNT still reads the keys, so
  the done/failed ones grow with the clips kept (cheap: index items are small).
- ``first_submitted``: one GetItem (the history marker).

Day walks stop at the day of the oldest clip (the history marker).
"""

from __future__ import annotations

import json
from dataclasses import fields
from datetime import date, datetime, timedelta
from itertools import islice
from typing import Iterator, Optional

from edgecloud.clip_table import BY_DAY, BY_DEVICE, BY_FINISHED, BY_STATUS, INDEXES
from edgecloud.clock import utcnow
from edgecloud.protocol.states import FINAL, ClipStatus

from .clip_row import ClipRow, iso
from .trigger_order import newest_recorded_first

STORING = ClipStatus.STORING
STATUSES = (STORING, "queued", "processing", *FINAL)
HISTORY = "#history"  # the item holding when the oldest clip was submitted
LOOKBACK_DAYS = 7  # how far back the per-tick queries (recent latencies, last cloud clip) walk, one Query a day
LATE_DAYS = 7  # a day's listing looks this far past it for clips that arrived late (a Pi offline)
DEVICE = "#device"  # status of a device's marker item (its last upload), keyed #device#<id>
_ROW_FIELDS = {f.name for f in fields(ClipRow)}
_TIMES = ("submitted_at", "started_at", "finished_at")


def attrs(values: dict) -> dict:
    """Python values (str, number) as DynamoDB attribute values; None is left out."""
    return {
        k: {"N": repr(float(v))} if isinstance(v, (int, float)) else {"S": str(v)}
        for k, v in values.items()
        if v is not None
    }


def as_row(item: dict) -> ClipRow:
    values = {k: (float(v["N"]) if "N" in v else v["S"]) for k, v in item.items() if k in _ROW_FIELDS}
    for key in _TIMES:
        if key in values:
            values[key] = datetime.fromisoformat(values[key])
    values["label_counts"] = json.loads(values.get("label_counts") or "{}")
    values["video_dropped"] = bool(values.get("video_dropped"))
    return ClipRow(**values)


def _days(first: date, last: date) -> list[str]:
    return [(first + timedelta(days=n)).isoformat() for n in range((last - first).days + 1)]


class ClipQueries:
    """Mixed into ``DynamoLedger``: needs ``aws``, ``table`` and ``first_submitted``'s marker."""

    def _items(
        self,
        index: str,
        hash_value: str,
        *,
        op: str = "",
        bound: str = "",
        forward: bool = True,
        count: bool = False,
        first: bool = False,
    ) -> Iterator[dict]:
        """Items of one index partition in range-key order (``op``: <, >= or begins_with the ``bound``);
        with ``count``, one {"Count": n} per page instead."""
        hash_key, range_key = INDEXES[index]
        condition = "#h = :h"
        values = {":h": hash_value}
        if op:
            condition += " AND begins_with(#r, :r)" if op == "begins_with" else f" AND #r {op} :r"
            values[":r"] = bound
        kwargs = dict(
            TableName=self.table,
            IndexName=index,
            KeyConditionExpression=condition,
            ExpressionAttributeNames={"#h": hash_key, **({"#r": range_key} if op else {})},
            ExpressionAttributeValues=attrs(values),
            ScanIndexForward=forward,
        )
        if count:
            kwargs["Select"] = "COUNT"
        paging = {"PaginationConfig": {"MaxItems": 1, "PageSize": 1}} if first else {}  # one item read, not a page
        for page in self.aws.dynamodb.get_paginator("query").paginate(**kwargs, **paging):
            if count:
                yield {"Count": page["Count"]}
            else:
                yield from page["Items"]

    def _rows(self, index: str, hash_value: str, **query) -> Iterator[ClipRow]:
        return (as_row(item) for item in self._items(index, hash_value, **query))

    def _count(self, index: str, hash_value: str, **query) -> int:
        return sum(page["Count"] for page in self._items(index, hash_value, count=True, **query))

    def _history_days(self, since: Optional[date] = None) -> list[str]:
        """Days from ``since`` (or the oldest clip's) to today, oldest first; none while empty."""
        first = self.first_submitted()
        if first is None:
            return []
        return _days(max(since or first.date(), first.date()), utcnow().date())

    def _recent_days(self) -> list[str]:
        """The last LOOKBACK_DAYS of history: what a scaling tick may read, however old the table."""
        return self._history_days(utcnow().date() - timedelta(days=LOOKBACK_DAYS - 1))

    def first_submitted(self) -> Optional[datetime]:
        item = self.aws.dynamodb.get_item(
            TableName=self.table, Key={"clip_id": {"S": HISTORY}}, ConsistentRead=True
        ).get("Item")
        return datetime.fromisoformat(item["first_at"]["S"]) if item else None

    def storing_since_before(self, when: datetime) -> list[ClipRow]:
        return sorted(self._rows(BY_STATUS, STORING, op="<", bound=iso(when)), key=lambda r: r.clip_id)

    def recent_cloud(self, limit: int = 50) -> list[ClipRow]:
        newest_first = (
            row for day in reversed(self._recent_days()) for row in self._rows(BY_FINISHED, day, forward=False)
        )
        return list(
            islice((r for r in newest_first if r.status == "done" and r.processed_by not in (None, "edge")), limit)
        )

    def cloud_submissions(self, since: datetime) -> tuple[int, Optional[datetime]]:
        cloud = [
            r.submitted_at
            for day in self._history_days(since.date())
            for r in self._rows(BY_DAY, day, op=">=", bound=iso(since))
            if r.processed_by != "edge"
        ]
        if cloud:
            return len(cloud), max(cloud)
        earlier = (
            r.submitted_at
            for day in reversed(self._recent_days())
            for r in self._rows(BY_DAY, day, forward=False)
            if r.processed_by != "edge"
        )
        return 0, next(earlier, None)

    def search(
        self, *, device: str = "", label: str = "", status: str = "", day: str = "", limit: int = 25, offset: int = 0
    ) -> list[ClipRow]:
        if day:  # a clip recorded that day arrived then or within LATE_DAYS after
            first = date.fromisoformat(day)
            last = min(first + timedelta(days=LATE_DAYS), utcnow().date())
            rows = (r for d in reversed(_days(first, last)) for r in self._rows(BY_DAY, d, forward=False))
        elif device:
            rows = self._rows(BY_DEVICE, device, forward=False)
        elif status:
            rows = self._rows(BY_STATUS, status, forward=False)
        else:
            rows = (r for d in reversed(self._history_days()) for r in self._rows(BY_DAY, d, forward=False))
        wanted = (
            r
            for r in newest_recorded_first(rows)
            if (not device or r.device_id == device)
            and (not status or r.status == status)
            and (not label or label in r.label_counts)
            and (not day or r.recorded_at.date().isoformat() == day)
        )
        return list(islice(wanted, offset, offset + limit))

    def finished_since(self, since: datetime) -> list[ClipRow]:
        return [
            r
            for day in self._history_days(since.date())
            for r in self._rows(BY_FINISHED, day, op=">=", bound=iso(since))
        ]

    def devices(self, today: datetime) -> list[dict]:
        seen = {item["device"]["S"]: datetime.fromisoformat(item["sk"]["S"]) for item in self._items(BY_STATUS, DEVICE)}
        return [
            {"device_id": d, "last_seen": seen[d], "clips_today": self._count(BY_DEVICE, d, op=">=", bound=iso(today))}
            for d in sorted(seen)
        ]

    def oldest_submitted(self, statuses: tuple[str, ...]) -> Optional[datetime]:
        """One item read per status: the first of its partition in (submitted_at, clip_id) order."""
        firsts = [r.submitted_at for s in statuses for r in self._rows(BY_STATUS, s, first=True)]
        return min(firsts) if firsts else None

    def counts(self) -> dict[str, int]:
        return {status: n for status in STATUSES if (n := self._count(BY_STATUS, status))}
