"""Events in DynamoDB (``tables.events``, see ``edgecloud.event_table``): any number of controllers share them.

Placing a clip is optimistic: read the device's marker (its version ``v`` and its recent events'
times) and those events (strongly consistent), regroup, then write in one transaction conditioned
on the marker's version and each event's: two controllers placing clips of one device at once
cannot both win; the loser reads again and places its clip among what the winner wrote.
A claim (a rule notified for the event) bumps the event's version, so a merge cannot drop it.

Costs per clip with objects: 1 GetItem (marker) + 1 BatchGetItem (the events near it, usually
one) + 1 TransactWriteItems (marker, event, a tombstone per merged event); a clip older than the
marker's memory (``RECENT_S`` before the device's newest event) adds a Query on ``by_device``.
"""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime, timedelta
from itertools import islice
from typing import Iterator, Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, error_code
from edgecloud.clock import utcnow
from edgecloud.config import ConfigError
from edgecloud.event_table import BY_DAY, BY_DEVICE

from .clip_row import iso
from .event_pages import Window, newest_first
from .events import Event, EventClip, make_event, near, regroup
from .events_sqlite import MERGE_HOPS

log = logging.getLogger(__name__)
DEVICE = "#device#"  # a device's marker: #device#<id>
HISTORY = "#history"  # first_day: the day of the oldest event (where a walk back stops)
RECENT_S = 86400  # a device's marker lists its events that ended within this of its newest
TRIES = 30
BATCH_GET_MAX = 100


class EventsConflict(RuntimeError):
    """Other writers kept winning: the clip could not be placed after TRIES reads."""


def _s(value: str) -> dict:
    return {"S": value}


class DynamoEvents:
    def __init__(self, aws: Aws, table: str, *, gap_s: float = 30.0):
        self.aws = aws
        self.table = table
        self.gap_s = gap_s
        self._first_day: Optional[str] = None  # the history marker holds this or older
        try:
            aws.dynamodb.get_item(TableName=table, Key={"event_id": _s(HISTORY)})
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            raise ConfigError(
                f"bad setting: tables.events: no DynamoDB table {table!r} (the stack makes it, "
                "as does `edgecloud controller serve --ensure-resources`)"
            ) from None

    # -- items -------------------------------------------------------------------------

    def _get(self, key: str) -> Optional[dict]:
        return self.aws.dynamodb.get_item(TableName=self.table, Key={"event_id": _s(key)}, ConsistentRead=True).get(
            "Item"
        )

    @staticmethod
    def _event(item: dict) -> Event:
        device = item["device_id"]["S"]
        data = json.loads(item["body"]["S"])
        return make_event(
            item["event_id"]["S"],
            device,
            (EventClip.from_dict(device, c) for c in data["clips"]),
            item.get("claims", {}).get("SS", ()),
        )

    def _live(self, event_id: str) -> Optional[dict]:
        """The event's item, following tombstones; None if unknown."""
        for _ in range(MERGE_HOPS):
            item = self._get(event_id)
            if item is None or "merged_into" not in item:
                return item
            event_id = item["merged_into"]["S"]
        return None

    def _batch(self, ids: set[str]) -> dict[str, dict]:
        found: dict[str, dict] = {}
        keys = [{"event_id": _s(i)} for i in sorted(ids)]
        while keys:
            chunk, keys = keys[:BATCH_GET_MAX], keys[BATCH_GET_MAX:]
            reply = self.aws.dynamodb.batch_get_item(RequestItems={self.table: {"Keys": chunk, "ConsistentRead": True}})
            found.update(
                {i["event_id"]["S"]: i for i in reply.get("Responses", {}).get(self.table, []) if "device_id" in i}
            )
            keys += reply.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return found

    def _query(self, index: str, hash_key: str, value: str, condition: str, bound: dict) -> Iterator[dict]:
        pages = self.aws.dynamodb.get_paginator("query").paginate(
            TableName=self.table,
            IndexName=index,
            ScanIndexForward=False,
            KeyConditionExpression=f"#h = :h{condition}",
            ExpressionAttributeNames={"#h": hash_key, **({"#r": "started_at"} if bound else {})},
            ExpressionAttributeValues={":h": _s(value), **{k: _s(v) for k, v in bound.items()}},
        )
        for page in pages:
            yield from page["Items"]

    # -- placing a clip ----------------------------------------------------------------

    def _near(self, clip: EventClip) -> tuple[Optional[dict], dict, dict[str, dict]]:
        """The device's marker, its spans (parsed once, here) and the items of its events near ``clip``."""
        marker = self._get(DEVICE + clip.device_id)
        spans = json.loads(marker["spans"]["S"]) if marker else {}
        after, before = (iso(t) for t in near(clip, self.gap_s))
        ids = {i for i, (start, end) in spans.items() if start < before and end > after}
        horizon = marker.get("horizon", {}).get("S") if marker else None
        if horizon and after < horizon:  # reaches back past what the marker lists: ask the index (settled by now)
            for item in self._query(BY_DEVICE, "device_id", clip.device_id, " AND #r < :r", {":r": before}):
                if item["ended_at"]["S"] <= after:
                    break  # a device's events never overlap: all older ones ended earlier still
                ids.add(item["event_id"]["S"])
        return marker, spans, self._batch(ids)

    def add_clip(self, clip: EventClip) -> Event:
        for attempt in range(TRIES):
            marker, spans, items = self._near(clip)
            event, merged = regroup([self._event(i) for i in items.values()], clip, self.gap_s)
            try:
                self.aws.dynamodb.transact_write_items(TransactItems=self._writes(marker, spans, items, event, merged))
            except ClientError as err:
                if error_code(err) != "TransactionCanceledException":
                    raise
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # another controller placed a clip first
                continue
            self._note_day(iso(event.started_at)[:10])
            return event
        raise EventsConflict(f"clip {clip.clip_id} not placed in an event: {TRIES} tries lost to other writers")

    def _writes(
        self, marker: Optional[dict], spans: dict, items: dict[str, dict], event: Event, merged: list[Event]
    ) -> list[dict]:
        """The transaction placing ``event``: its device's marker (``spans`` as ``_near`` parsed it, updated),
        the event, a tombstone per merged event; each conditioned on the version read."""
        spans = dict(spans)  # the caller's stays as read
        horizon = marker.get("horizon", {}).get("S", "") if marker else ""
        for gone in merged:
            spans.pop(gone.event_id, None)
        spans[event.event_id] = [iso(event.started_at), iso(event.ended_at)]
        cutoff = iso(datetime.fromisoformat(max(end for _, end in spans.values())) - timedelta(seconds=RECENT_S))
        for old in [i for i, (_, end) in spans.items() if end < cutoff]:
            horizon = max(horizon, spans.pop(old)[1])
        version = int(marker["v"]["N"]) if marker else 0
        values = {":v": {"N": str(version + 1)}, ":spans": _s(json.dumps(spans, sort_keys=True))}
        if horizon:
            values[":horizon"] = _s(horizon)
        writes = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": {"event_id": _s(DEVICE + event.device_id)},
                    "UpdateExpression": "SET v = :v, spans = :spans" + (", horizon = :horizon" if horizon else ""),
                    "ConditionExpression": "v = :was" if marker else "attribute_not_exists(v)",
                    "ExpressionAttributeValues": {**values, **({":was": marker["v"]} if marker else {})},
                }
            }
        ]
        writes.append({"Put": self._put(event, items.get(event.event_id))})
        for gone in merged:
            was = items[gone.event_id]
            writes.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {"event_id": _s(gone.event_id), "merged_into": _s(event.event_id)},
                        "ConditionExpression": "v = :was",
                        "ExpressionAttributeValues": {":was": was["v"]},
                    }
                }
            )
        return writes

    def _put(self, event: Event, was: Optional[dict]) -> dict:
        """The Put of ``event``, conditioned on the version read (``was``; None: a new event)."""
        body = {"clips": [c.as_dict() for c in event.clips]}
        item = {
            "event_id": _s(event.event_id),
            "device_id": _s(event.device_id),
            "started_at": _s(iso(event.started_at)),
            "started_day": _s(iso(event.started_at)[:10]),
            "ended_at": _s(iso(event.ended_at)),
            "body": _s(json.dumps(body)),
            "v": {"N": str(int(was["v"]["N"]) + 1 if was else 1)},
        }
        if event.claims:
            item["claims"] = {"SS": sorted(event.claims)}
        if was is None:
            return {"TableName": self.table, "Item": item, "ConditionExpression": "attribute_not_exists(event_id)"}
        return {
            "TableName": self.table,
            "Item": item,
            "ConditionExpression": "v = :was",
            "ExpressionAttributeValues": {":was": was["v"]},
        }

    def _note_day(self, day: str) -> None:
        if self._first_day is not None and self._first_day <= day:
            return
        try:
            self.aws.dynamodb.update_item(
                TableName=self.table,
                Key={"event_id": _s(HISTORY)},
                UpdateExpression="SET first_day = :d",
                ExpressionAttributeValues={":d": _s(day)},
                ConditionExpression="attribute_not_exists(first_day) OR first_day > :d",
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
        self._first_day = day  # stored now, or an older one already was

    # -- reads and claims --------------------------------------------------------------

    def event_of(self, clip: EventClip) -> Optional[Event]:
        _, _, items = self._near(clip)
        return next((e for e in map(self._event, items.values()) if clip.clip_id in e.clip_ids), None)

    def get(self, event_id: str) -> Optional[Event]:
        item = self._live(event_id)
        return self._event(item) if item else None

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
        window = Window(since, before, before_id)
        condition, bound = window.key_condition()
        if window.empty:
            return []  # (a key condition's BETWEEN refuses a low above its high)
        if device:
            items = self._query(BY_DEVICE, "device_id", device, condition, bound)
        else:  # day by day, newest first
            history = self._get(HISTORY)
            days = window.days(history["first_day"]["S"] if history else None, utcnow().date())
            items = (i for day in days for i in self._query(BY_DAY, "started_day", day, condition, bound))
        found = (i for i in newest_first(items) if window.admits(i["started_at"]["S"], i["event_id"]["S"]))
        events = (self._event(i) for i in found)
        return list(
            islice((e for e in events if (not label or label in e.labels) and (not zone or zone in e.zones)), limit)
        )

    def claim(self, event_id: str, mark: str) -> bool:
        for _ in range(TRIES):
            item = self._live(event_id)
            if item is None or mark in item.get("claims", {}).get("SS", ()):
                return False
            try:
                self.aws.dynamodb.update_item(
                    TableName=self.table,
                    Key={"event_id": item["event_id"]},
                    UpdateExpression="ADD claims :mark SET v = :next",
                    ConditionExpression="v = :was",
                    ExpressionAttributeValues={
                        ":mark": {"SS": [mark]},
                        ":was": item["v"],
                        ":next": {"N": str(int(item["v"]["N"]) + 1)},
                    },
                )
            except ClientError as err:
                if error_code(err) != "ConditionalCheckFailedException":
                    raise
                continue  # changed (a clip placed, a merge, another claim): read again
            return True
        raise EventsConflict(f"event {event_id}: {TRIES} tries lost to other writers")

    def close(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"<DynamoEvents {self.table}>"
