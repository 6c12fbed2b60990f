"""Per-device request quotas, per-address wrong tokens, and a daily upload cap shared by all.

Every request a device makes (uploads, refused ones too, status polls, frame
grants and answers) takes a token from its bucket (``upload_burst`` requests,
refilled at ``upload_refill_per_s``) before its body is read: what keeps one
device, or a leaked token, from flooding a controller. A source address that
presents ``bad_token_per_min`` wrong tokens a minute is refused before any
registry read. Both live in this controller's memory, so N controllers behind
a load balancer allow N times as much. The daily cap is what bounds a leaked
token's stored clips: one atomic counter per device per UTC day in the
credentials table (``quota#<device>#<day>``), incremented only while under the
cap (ten uploads at a time while ten fit: one write per ten uploads), so it
holds across every controller. Over any: ``Refused`` 429 with ``Retry-After``
(seconds until the bucket has a token, or until midnight UTC).
"""

from __future__ import annotations

import math
import threading
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, error_code
from edgecloud.credentials import quota_key

from .errors import Refused

_KEEP_COUNTERS_S = 3 * 86400  # DynamoDB TTL removes a day's counter after this
_FORGET_PAST = 4096  # buckets kept before full ones are dropped


class TokenBuckets:
    """One token bucket per key; ``take`` returns 0 when a token was taken, else seconds to wait."""

    def __init__(self, burst: int, refill_per_s: float, clock: Callable[[], float] = time.monotonic):
        self.burst = burst
        self.refill_per_s = refill_per_s
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._forget_at = _FORGET_PAST
        self._lock = threading.Lock()

    def _tokens(self, key: str, now: float) -> float:
        tokens, then = self._buckets.get(key, (float(self.burst), now))
        return min(float(self.burst), tokens + (now - then) * self.refill_per_s)

    def take(self, key: str) -> float:
        now = self.clock()
        with self._lock:
            tokens = self._tokens(key, now)
            if len(self._buckets) >= self._forget_at:
                self._forget_full(now)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.refill_per_s

    def __len__(self) -> int:
        """Keys held (a key not held has a full bucket)."""
        return len(self._buckets)

    def wait(self, key: str) -> float:
        """Seconds until ``key`` has a token (0: it has one now); takes nothing."""
        with self._lock:
            tokens = self._tokens(key, self.clock())
        return 0.0 if tokens >= 1 else (1 - tokens) / self.refill_per_s

    def _forget_full(self, now: float) -> None:
        # A full bucket is what an unknown key gets: dropping those bounds memory when keys are
        # many (source addresses), at one pass per doubling of the table.
        self._buckets = {k: v for k, v in self._buckets.items() if self._tokens(k, now) < self.burst}
        self._forget_at = max(_FORGET_PAST, 2 * len(self._buckets))


class DailyCap:
    """Uploads per device per UTC day, counted atomically in DynamoDB.

    A controller counts a device's uploads ``block`` at a time (one write per ``block`` uploads,
    not one per upload) while a whole block still fits under the cap, then one at a time. The
    cap holds across controllers all the same; uploads counted but not used (the controller
    stopped, the day ended) are lost to the device: the cap is stricter by at most
    ``block - 1`` per controller, never looser."""

    def __init__(
        self,
        aws: Aws,
        table: str,
        cap: int,
        now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
        block: int = 10,
    ):
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
                TableName=self.table,
                Key=quota_key(device_id, now),
                UpdateExpression="ADD uploads :n SET expires_at = if_not_exists(expires_at, :expires)",
                ConditionExpression="attribute_not_exists(uploads) OR uploads <= :most",
                ExpressionAttributeValues={
                    ":n": {"N": str(n)},
                    ":most": {"N": str(self.cap - n)},
                    ":expires": {"N": str(int(now.timestamp()) + _KEEP_COUNTERS_S)},
                },
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            return False
        return True

    def used(self, device_id: str) -> int:
        item = self.aws.dynamodb.get_item(
            TableName=self.table, ConsistentRead=True, Key=quota_key(device_id, self.now())
        ).get("Item")
        return int(item["uploads"]["N"]) if item else 0


class Quotas:
    """The limits, each bucket checked before any AWS call."""

    def __init__(self, buckets: TokenBuckets, daily: DailyCap, wrong_tokens: TokenBuckets):
        self.buckets = buckets
        self.daily = daily
        self.wrong_tokens = wrong_tokens

    @classmethod
    def from_settings(cls, aws: Aws, settings) -> "Quotas":
        c = settings.controller
        return cls(
            TokenBuckets(c.upload_burst, c.upload_refill_per_s),
            DailyCap(aws, settings.tables.credentials, c.daily_clip_cap),
            TokenBuckets(c.bad_token_per_min, c.bad_token_per_min / 60),
        )

    def take_burst(self, device_id: str) -> None:
        """Every request of a device, whatever its answer: what keeps one device from flooding a controller."""
        wait = self.buckets.take(device_id)
        if wait:
            raise Refused(
                f"device {device_id!r} is over {self.buckets.burst} requests in a burst "
                f"({self.buckets.refill_per_s:g}/s sustained)",
                429,
                {"Retry-After": _seconds(wait)},
            )

    def take_daily(self, device_id: str) -> None:
        """A clip new to the controller: a retry of one already held (its reply was lost) is not counted again."""
        wait = self.daily.take(device_id)
        if wait:
            raise Refused(
                f"device {device_id!r} reached its {self.daily.cap} uploads today (UTC)",
                429,
                {"Retry-After": _seconds(wait)},
            )

    def wrong_tokens_refused(self, address: str) -> Optional[Refused]:
        """429 for an address past its wrong tokens this minute (None: it may try a token)."""
        wait = self.wrong_tokens.wait(address)
        if not wait:
            return None
        return Refused(
            f"too many wrong tokens from {address} (at most {self.wrong_tokens.burst} a minute)",
            429,
            {"Retry-After": _seconds(wait)},
        )

    def count_wrong_token(self, address: str) -> None:
        self.wrong_tokens.take(address)


def _seconds(wait: float) -> str:
    return str(max(1, math.ceil(wait)))
