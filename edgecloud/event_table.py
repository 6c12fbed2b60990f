"""The events table (``tables.events``): the events every controller shares (controller/events_dynamo.py).

Items, keyed by ``event_id``:

- an event: ``device_id``, ``started_at``, ``started_day``, ``ended_at``, ``body`` (its clips and
  claims, JSON) and ``v`` (its version, for conditional writes);
- a tombstone: ``merged_into`` only, for an event merged into another (out of index);
- a device's marker ``#device#<id>``: ``v`` and ``spans`` (its recent events' times): every
  placement of a clip of that device is a transaction conditioned on ``v``, and reads the
  recent events by their ids (strongly consistent), never from an index that may lag.

| index | hash | range | serves |
|---|---|---|---|
| ``by_device`` | ``device_id`` | ``started_at`` | one device's events, newest first; older ones near a late clip |
| ``by_day`` | ``started_day`` (YYYY-MM-DD) | ``started_at`` | every device's events, day by day |

infra/template.yaml declares the same.
"""

from __future__ import annotations

from .aws import Aws
from .dynamo_table import ensure_dynamodb_table

KEY = "event_id"
BY_DEVICE, BY_DAY = "by_device", "by_day"
INDEXES = {
    BY_DEVICE: ("device_id", "started_at"),
    BY_DAY: ("started_day", "started_at"),
}


def ensure_table(aws: Aws, table: str) -> bool:
    """Create the events table and its indexes if missing (demo, tests, ``--ensure-resources``)."""
    return ensure_dynamodb_table(aws, table, KEY, indexes=INDEXES)
