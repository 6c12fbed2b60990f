"""Who leads: one lease item in a DynamoDB table (``tables.leases``) decides which
controller runs the autoscaler, so any number of controllers can serve the API
while exactly one launches workers.

The lease is one item (``lease``: its name, ``holder``, ``expires_at`` in epoch
seconds). A controller takes it with a conditional PutItem that succeeds only
when the item is absent, expired, or already its own; holding it means writing
it again before it expires. The leader renews every ``interval``; the lease
lasts ``LEASE_INTERVALS`` intervals, and a follower tries every half interval,
so when a leader dies the lease lapses at most 1.5 intervals after its last
renewal and a follower holds it within two intervals of the death. A clean
shutdown deletes the item (only if still ours), so the hand-over is at once.
Clocks of the controllers must agree to well under an interval (NTP does).
"""

from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, error_code

log = logging.getLogger(__name__)

AUTOSCALER = "autoscaler"  # the lease's name: one item per thing that must have one owner
LEASE_INTERVALS = 1.5  # a lease outlives one missed renewal by half an interval
FOLLOWER_TRY_INTERVALS = 0.5  # a follower tries this often, so 1.5 + 0.5 = 2 intervals at worst


def controller_id() -> str:
    """This controller process, unique even when two share a host and a pid namespace."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass(frozen=True)
class Holder:
    """Who holds the lease, and until when (epoch seconds)."""

    holder: str
    expires_at: float
    acquired_at: float

    def expired(self, now: float) -> bool:
        return self.expires_at <= now


class Lease:
    """Take, keep and give back one named lease. ``clock`` is injected so tests
    move time instead of sleeping."""

    def __init__(
        self,
        aws: Aws,
        table: str,
        *,
        interval: float,
        holder: Optional[str] = None,
        name: str = AUTOSCALER,
        clock: Callable[[], float] = time.time,
    ):
        self.aws = aws
        self.table = table
        self.name = name
        self.holder = holder or controller_id()
        self.duration_s = LEASE_INTERVALS * interval
        self.clock = clock
        self.held = False
        self.acquired_at: Optional[float] = None  # when this holder last took it (not renewals)
        self.expires_at = 0.0  # of this holder's last successful write
        self._warned = False

    def acquire(self) -> bool:
        """Take or renew the lease; True while this controller holds it. Never raises for
        AWS errors: a controller that cannot reach the table must not lead."""
        now = self.clock()
        acquired_at = self.acquired_at if self.held else now
        expires_at = now + self.duration_s
        try:
            self.aws.dynamodb.put_item(
                TableName=self.table,
                Item={
                    "lease": {"S": self.name},
                    "holder": {"S": self.holder},
                    "expires_at": {"N": f"{expires_at:.3f}"},
                    "acquired_at": {"N": f"{acquired_at:.3f}"},
                },
                ConditionExpression="attribute_not_exists(lease) OR expires_at <= :now OR holder = :me",
                ExpressionAttributeValues={":now": {"N": f"{now:.3f}"}, ":me": {"S": self.holder}},
            )
        except ClientError as err:
            if error_code(err) == "ResourceNotFoundException":  # a stack from before the table: alone, as before
                if not self._warned:
                    log.warning("no lease table %s: this controller scales as if it were the only one", self.table)
                    self._warned = True
                self.held, self.expires_at = True, float("inf")
                return True
            if error_code(err) != "ConditionalCheckFailedException" and not self._warned:
                log.warning("cannot reach the lease table %s (%s); not leading", self.table, error_code(err))
                self._warned = True
            self._lose()
            return False
        if not self.held:
            log.info("%s now leads (%s lease)", self.holder, self.name)
        self.held, self.acquired_at, self.expires_at, self._warned = True, acquired_at, expires_at, False
        return True

    def still_held(self) -> bool:
        """Held, with at least half an interval left by this clock: checked again right before a
        launch, so a step slowed near the lease's end launches nothing that a new leader, taking
        it the moment it lapses, might launch too while our launch is still in flight."""
        return self.held and self.clock() < self.expires_at - self.duration_s / (2 * LEASE_INTERVALS)

    def _lose(self) -> None:
        if self.held:
            log.warning("%s lost the %s lease", self.holder, self.name)
        self.held = False

    def release(self) -> bool:
        """Give the lease back (clean shutdown) so a follower takes it at its next try; True if it was ours."""
        was_held, self.held = self.held, False
        try:
            self.aws.dynamodb.delete_item(
                TableName=self.table,
                Key={"lease": {"S": self.name}},
                ConditionExpression="holder = :me",
                ExpressionAttributeValues={":me": {"S": self.holder}},
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                log.warning("cannot release the %s lease (%s); it lapses by itself", self.name, error_code(err))
            return False
        return was_held

    def current(self) -> Optional[Holder]:
        """Who holds the lease now (None: nobody has, or the item is gone)."""
        item = self.aws.dynamodb.get_item(
            TableName=self.table, Key={"lease": {"S": self.name}}, ConsistentRead=True
        ).get("Item")
        if not item:
            return None
        return Holder(item["holder"]["S"], float(item["expires_at"]["N"]), float(item["acquired_at"]["N"]))

    def describe(self) -> dict:
        """What /v1/stats shows: the leader (None if the lease lapsed), and whether that is this controller."""
        now = self.clock()
        found = self.current()
        leader = found.holder if found and not found.expired(now) else None
        return {
            "leader": leader,
            "this_controller": self.holder,
            "leading": leader == self.holder,
            "expires_in_s": round(found.expires_at - now, 3) if leader else None,
        }

    def __repr__(self) -> str:
        return f"<Lease {self.name} holder={self.holder} held={self.held}>"
