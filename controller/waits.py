"""How many ``?wait=`` long polls the controller holds at once, so uploads always find a thread.

Every Pi long-polls the status of its clips in the cloud. Held without a cap,
a few busy Pis park every gunicorn thread and uploads queue behind them. A
poll past the cap (per device, or in all) is answered at once with the
clip's current status and ``Retry-After``: the Pi asks again a little later,
and results are seen no later than a poll interval after they land.
"""

from __future__ import annotations

import contextlib
import threading
from collections import Counter
from typing import Iterator


class HeldWaits:
    """Counts held waits per device and in all; ``hold`` says whether one more may be held."""

    def __init__(self, total: int, per_device: int):
        self.total = total
        self.per_device = per_device
        self._lock = threading.Lock()
        self._held: Counter[str] = Counter()

    @contextlib.contextmanager
    def hold(self, device_id: str) -> Iterator[bool]:
        with self._lock:
            allowed = sum(self._held.values()) < self.total and self._held[device_id] < self.per_device
            if allowed:
                self._held[device_id] += 1
        try:
            yield allowed
        finally:
            if allowed:
                with self._lock:
                    self._held[device_id] -= 1
                    if not self._held[device_id]:
                        del self._held[device_id]

    @property
    def held(self) -> int:
        with self._lock:
            return sum(self._held.values())
