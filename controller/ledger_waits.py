"""Waiting for a clip's final state (``GET /v1/clips/<id>?wait=``), for either ledger.

A ledger that mixes this in calls ``_notify()`` after each write of its own,
which wakes its waiters at once; what another process writes is seen by a
re-read every ``recheck_s`` (SQLite) or the shared ledger's poller, which
also calls ``_notify()``. Waiters re-read their row outside the lock, and a
version counter makes sure a notify between that read and the wait is never
missed.
"""
from __future__ import annotations

import threading
import time
from collections import Counter

class FinalWaits:
    """``wait_final``, ``waiting``, ``wait_for_waiters``, ``release_waiters``; needs ``get(clip_id)``."""

    recheck_s = 1.0

    def _init_waits(self) -> None:
        lock = threading.Lock()
        self._changed = threading.Condition(lock)  # a row may have changed: waiters re-read
        self._held = threading.Condition(lock)  # a waiter is now blocked: for wait_for_waiters
        self._version = 0
        self._released = False
        self._waiting = 0  # in wait_final
        self._blocked = 0  # of those, blocked now, having read a row that is not final
        self._waited: Counter[str] = Counter()  # clip id -> requests waiting on it

    def _notify(self) -> None:
        """Something changed: every waiter re-reads its row."""
        with self._changed:
            self._version += 1
            self._changed.notify_all()

    def _waits_began(self) -> None:
        """Hook: a request is about to wait (the shared ledger starts its poller)."""

    def waited_ids(self) -> list[str]:
        """The clips requests are waiting on now."""
        with self._changed:
            return list(self._waited)

    def wait_final(self, clip_id: str, timeout: float):
        """The clip's row once it is done/failed (or gone), or as it stands after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            self._waiting += 1
            self._waited[clip_id] += 1
        self._waits_began()
        try:
            while True:
                with self._changed:
                    seen = self._version
                row = self.get(clip_id)
                if row is None or row.final:
                    return row
                with self._changed:
                    left = deadline - time.monotonic()
                    if self._released or left <= 0:
                        return row
                    if self._version == seen:
                        self._blocked += 1
                        self._held.notify_all()
                        try:
                            self._changed.wait(min(self.recheck_s, left))
                        finally:
                            self._blocked -= 1
        finally:
            with self._changed:
                self._waiting -= 1
                self._waited[clip_id] -= 1
                if not self._waited[clip_id]:
                    del self._waited[clip_id]

    @property
    def waiting(self) -> int:
        """Requests held in ``wait_final`` now."""
        return self._waiting

    def wait_for_waiters(self, n: int, timeout: float) -> bool:
        """Block until at least ``n`` callers are held in ``wait_final``, each having read its
        row and found it not final, so any write from now on must wake them (False on timeout)."""
        with self._held:
            return self._held.wait_for(lambda: self._blocked >= n, timeout)

    def release_waiters(self) -> None:
        """Answer every ``wait_final`` now and from now on (shutdown: no request may hold it up)."""
        with self._changed:
            self._released = True
            self._version += 1
            self._changed.notify_all()
