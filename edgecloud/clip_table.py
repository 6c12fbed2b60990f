"""The clips table (``tables.clips``): the clip ledger every controller shares.

One item per clip, keyed by ``clip_id``; four global secondary indexes serve
the ledger's queries without a Scan (each a Query on one partition):

| index | hash | range | serves |
|---|---|---|---|
| ``by_day`` | ``submitted_day`` (YYYY-MM-DD) | ``sk`` | arrival rate, newest-first listing, a day's clips |
| ``by_device`` | ``device_id`` | ``sk`` | one device's clips, its count today |
| ``by_status`` | ``status`` | ``sk`` | uploads left storing, counts by status, the device list |
| ``by_finished`` | ``finished_day`` | ``finished_at`` | the latency chart, recent cloud medians |

``sk`` is ``<submitted_at>|<clip_id>`` (fixed-width ISO time), so index order is
(submitted_at, clip_id), as the SQLite ledger orders. Day partitions spread a
busy fleet's writes over one partition a day instead of one for all time.
The schema lives in the shared layer: ``ensure_resources`` makes the table and
the controller's ``DynamoLedger`` reads it; infra/template.yaml declares the same.
"""

from __future__ import annotations

from .aws import Aws
from .dynamo_table import ensure_dynamodb_table

KEY = "clip_id"
BY_DAY, BY_DEVICE, BY_STATUS, BY_FINISHED = "by_day", "by_device", "by_status", "by_finished"
INDEXES = {
    BY_DAY: ("submitted_day", "sk"),
    BY_DEVICE: ("device_id", "sk"),
    BY_STATUS: ("status", "sk"),
    BY_FINISHED: ("finished_day", "finished_at"),
}


def ensure_table(aws: Aws, table: str) -> bool:
    """Create the clips table and its indexes if missing (demo, tests, ``--ensure-resources``)."""
    return ensure_dynamodb_table(aws, table, KEY, indexes=INDEXES)
