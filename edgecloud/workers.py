"""Workers' own reports of their state, in one DynamoDB table (``tables.workers``).

The autoscaler must know which workers are booting (launched, not yet
polling), polling (idle, waiting for a job), busy (holding one) or retiring.
A worker that cannot load its detector takes no job: it reports ``not-ready``
with the reason and exits (systemd restarts it); the autoscaler counts it as
booting, ``/v1/stats`` and the fleet page list it with its reason.
EC2's ``running`` comes long before a worker polls, so the workers say it
themselves: each writes one item, keyed by its instance id, when its state
changes (and at most every ``REFRESH_S`` while it stays the same). A fleet
instance with no item has not polled yet: it is booting.

Why a table and not a message on the completions queue: every controller (and
whichever one leads the autoscaling) must read every worker's state, after a
restart too; a queue message is read by one consumer, once. An item per
worker is an idempotent overwrite, at most ``max_workers`` items, read with
one Scan per scaling tick, and removed by DynamoDB's TTL when stale.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime, timezone
from typing import Callable, Iterator, Optional

from botocore.exceptions import ClientError

from .aws import Aws, error_code
from .dynamo_table import ensure_dynamodb_table

log = logging.getLogger(__name__)

BOOTING, POLLING, BUSY, RETIRING, NOT_READY = "booting", "polling", "busy", "retiring", "not-ready"
REPORTED = (POLLING, BUSY, RETIRING, NOT_READY)  # what a worker says of itself; booting is the absence of a report
STATES = (BOOTING, POLLING, BUSY, RETIRING)  # what the autoscaler counts
NOT_READY_SHOWN_S = 900.0  # a not-ready report is shown this long: a worker restarting keeps renewing it
REFRESH_S = 60.0  # an unchanged state is written again this often, so a live worker's item stays fresh
EXPIRY_S = 86400  # DynamoDB's TTL removes items of workers gone for a day
REASON_MAX = 1000  # characters of a not-ready reason kept


class WorkerStates:
    """Write this worker's state (worker side) or read them all (controller side)."""

    def __init__(self, aws: Aws, table: str, *, clock: Callable[[], float] = time.time):
        self.aws = aws
        self.table = table
        self.clock = clock
        self._last: tuple[str, float] | None = None
        self._warned = False

    def report(self, worker_id: str, state: str, reason: Optional[str] = None) -> bool:
        """Record ``worker_id``'s state (and why, for ``not-ready``); skipped when unchanged and written
        less than ``REFRESH_S`` ago. A failed write is logged, never raised: the job matters more."""
        if state not in REPORTED:
            raise ValueError(f"not a worker state: {state!r}; choose from {', '.join(REPORTED)}")
        now = self.clock()
        if self._last and self._last[0] == state and now - self._last[1] < REFRESH_S:
            return False
        try:
            self.aws.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "worker_id": {"S": worker_id},
                    "state": {"S": state},
                    "seen_at": {"N": f"{now:.3f}"},
                    "expires_at": {"N": str(int(now) + EXPIRY_S)},
                    **({"reason": {"S": reason[:REASON_MAX]}} if reason else {}),
                },
            )
        except ClientError as err:
            if not self._warned:
                log.warning(
                    "cannot report worker state to %s (%s); the autoscaler counts this worker as booting",
                    self.table,
                    error_code(err),
                )
                self._warned = True
            return False
        self._last = (state, now)
        return True

    def _items(self, projection: str) -> Iterator[dict]:
        for page in self.aws.dynamodb.get_paginator("scan").paginate(
            TableName=self.table, ProjectionExpression=projection, ExpressionAttributeNames={"#s": "state"}
        ):
            yield from page["Items"]

    def reported(self) -> dict[str, str]:
        """Worker id -> the state it last reported."""
        return {item["worker_id"]["S"]: item["state"]["S"] for item in self._items("worker_id, #s")}

    def not_ready(self, within_s: float = NOT_READY_SHOWN_S) -> list[dict]:
        """Workers whose last report, less than ``within_s`` ago, was ``not-ready``: id, reason, when."""
        now = self.clock()
        found = []
        for item in self._items("worker_id, #s, reason, seen_at"):
            seen = float(item["seen_at"]["N"])
            if item["state"]["S"] == NOT_READY and now - seen <= within_s:
                found.append(
                    {
                        "worker_id": item["worker_id"]["S"],
                        "reason": item.get("reason", {}).get("S", ""),
                        "seen_at": datetime.fromtimestamp(seen, timezone.utc).isoformat(timespec="seconds"),
                    }
                )
        return sorted(found, key=lambda w: w["worker_id"])


class NotReadyView:
    """``WorkerStates.not_ready``, read at most once per ``ttl_s``: every Pi polls ``/v1/stats``, and each
    read is a Scan of the table."""

    def __init__(self, states: WorkerStates, ttl_s: float = 10.0, clock: Callable[[], float] = time.monotonic):
        self.states = states
        self.ttl_s = ttl_s
        self.clock = clock
        self._read: Optional[tuple[float, list[dict]]] = None

    def __call__(self) -> list[dict]:
        now = self.clock()
        if self._read is None or now - self._read[0] >= self.ttl_s:
            self._read = (now, self.states.not_ready())
        return self._read[1]


def counted_as(state: str) -> str:
    """The state the autoscaler counts a worker in: one not ready is restarting, as good as booting."""
    return BOOTING if state == NOT_READY else state


def ensure_table(aws: Aws, table: str) -> None:
    """Create the workers' table if missing (demo, tests, ``--ensure-resources``)."""
    ensure_dynamodb_table(aws, table, "worker_id", expires_attribute="expires_at")
