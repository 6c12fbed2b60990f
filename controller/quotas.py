"""Per-device upload quotas: a token bucket per controller, and a daily cap shared by all.

The bucket (``upload_burst`` uploads, refilled at ``upload_refill_per_s``)
smooths bursts; it lives in this controller's memory, so N controllers behind
a load balancer allow N times the burst. The daily cap is what bounds a
leaked token: one atomic counter per device per UTC day in the credentials
table (``quota#<device>#<day>``), incremented only while under the cap (ten
uploads at a time while ten fit: one write per ten uploads), so it holds across
every controller. Over either: ``Refused`` 429 with
``Retry-After`` (seconds until the bucket has a token, or until midnight UTC).
"""
from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, error_code

from .auth import Refused

_KEEP_COUNTERS_S = 3 * 86400  # DynamoDB TTL removes a day's counter after this


class TokenBuckets:
    """One token bucket per key; ``take`` returns 0 when a token was taken, else seconds to wait."""

    def __init__(self, burst: int, refill_per_s: float, clock: Callable[[], float] = time.monotonic):
        self.burst = burst
        self.refill_per_s = refill_per_s
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        now = self.clock()
        with self._lock:
            tokens, then = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - then) * self.refill_per_s)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.refill_per_s


class DailyCap:
    """Uploads per device per UTC day, counted atomically in DynamoDB.

    A controller counts a device's uploads ``block`` at a time (one write per ``block`` uploads,
    not one per upload) while a whole block still fits under the cap, then one at a time. The
    cap holds across controllers all the same; uploads counted but not used (the controller
    stopped, the day ended) are lost to the device: the cap is stricter by at most
    ``block - 1`` per controller, never looser."""

    def __init__(self, aws: Aws, table: str, cap: int, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 block: int = 10):
        self.aws = aws
        self.table = table
        self.cap = cap
        self.now = now
        self.block = block
        self._day = ""
        self._counted: dict[str, int] = {}  # device -> uploads counted in DynamoDB today, not used yet
        self._lock = threading.Lock()

    def take(self, device_id: str) -> float:
        """Count one upload; 0 if under the cap, else seconds until the count starts again."""
        now = self.now()
        day = f"{now:%Y-%m-%d}"
        with self._lock:
            if day != self._day:
                self._day, self._counted = day, {}
            if self._counted.get(device_id):
                self._counted[device_id] -= 1
                return 0.0
        for n in (self.block, 1) if 1 < self.block <= self.cap else (1,):
            if self._count(device_id, now, n):
                with self._lock:
                    if day == self._day:
                        self._counted[device_id] = self._counted.get(device_id, 0) + n - 1
                return 0.0
        midnight = datetime(now.year, now.month, now.day, tzinfo=timezone.utc) + timedelta(days=1)
        return (midnight - now).total_seconds()

    def _count(self, device_id: str, now: datetime, n: int) -> bool:
        """Add ``n`` to today's count if it stays within the cap; False if it would not."""
        try:
            self.aws.dynamodb.update_item(
                TableName=self.table, Key={"pk": {"S": f"quota#{device_id}#{now:%Y-%m-%d}"}},
                UpdateExpression="ADD uploads :n SET expires_at = if_not_exists(expires_at, :expires)",
                ConditionExpression="attribute_not_exists(uploads) OR uploads <= :most",
                ExpressionAttributeValues={":n": {"N": str(n)}, ":most": {"N": str(self.cap - n)},
                                           ":expires": {"N": str(int(now.timestamp()) + _KEEP_COUNTERS_S)}})
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def used(self, device_id: str) -> int:
        item = self.aws.dynamodb.get_item(TableName=self.table, ConsistentRead=True,
                                          Key={"pk": {"S": f"quota#{device_id}#{self.now():%Y-%m-%d}"}}).get("Item")
        return int(item["uploads"]["N"]) if item else 0


class Quotas:
    """Both limits, checked bucket first (no AWS call when a device is merely bursting)."""

    def __init__(self, buckets: TokenBuckets, daily: DailyCap):
        self.buckets = buckets
        self.daily = daily

    @classmethod
    def from_settings(cls, aws: Aws, settings) -> "Quotas":
        c = settings.controller
        return cls(TokenBuckets(c.upload_burst, c.upload_refill_per_s),
                   DailyCap(aws, settings.tables.credentials, c.daily_clip_cap))

    def take_burst(self, device_id: str) -> None:
        """Every upload request, new clip or retry: what keeps one device from flooding a controller."""
        wait = self.buckets.take(device_id)
        if wait:
            raise Refused(f"device {device_id!r} is over {self.buckets.burst} uploads in a burst "
                          f"({self.buckets.refill_per_s:g}/s sustained)", 429, {"Retry-After": _seconds(wait)})

    def take_daily(self, device_id: str) -> None:
        """A clip new to the controller: a retry of one already held (its reply was lost) is not counted again."""
        wait = self.daily.take(device_id)
        if wait:
            raise Refused(f"device {device_id!r} reached its {self.daily.cap} uploads today (UTC)", 429,
                          {"Retry-After": _seconds(wait)})


def _seconds(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
