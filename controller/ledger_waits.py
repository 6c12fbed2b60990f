"""Waiting for a clip's final state (``GET /v1/clips/<id>?wait=``), for either ledger.

A ledger that mixes this in calls ``_notify()`` after each write of its own,
which wakes its waiters at once; what another process writes is seen by a
re-read every ``recheck_s`` (SQLite) or the shared ledger's poller, which
also calls ``_notify()``. Waiters re-read their row outside the lock, and a
version counter makes sure a notify between that read and the wait is never
missed. ``_notify(clip_ids)`` names the clips that changed: only their waiters
re-read (a re-read of the shared ledger is a DynamoDB read, and a hundred held
waits must not each make one per upload).
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
        self._touched: dict[str, int] = {}  # waited clip id -> the version of its latest change
        self._all_at = 0  # the version of the latest change that named no clip (all re-read)

    def _notify(self, clip_ids=None) -> None:
        """These clips changed (None: any may have): their waiters re-read their rows."""
        with self._changed:
            self._version += 1
            if clip_ids is None:
                self._all_at = self._version
            else:
                for clip_id in clip_ids:
                    if clip_id in self._waited:
                        self._touched[clip_id] = self._version
            self._changed.notify_all()

    def _changed_since(self, clip_id: str, seen: int) -> bool:
        """Whether a change since version ``seen`` may concern this clip (called under the lock)."""
        return self._released or self._all_at > seen or self._touched.get(clip_id, 0) > seen

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
                    while not self._changed_since(clip_id, seen):  # woken for other clips: wait on
                        left = deadline - time.monotonic()
                        if left <= 0:
                            return row
                        self._blocked += 1
                        self._held.notify_all()
                        try:
                            if not self._changed.wait(min(self.recheck_s, left)):
                                break  # recheck_s passed: re-read whatever was said
                        finally:
                            self._blocked -= 1
                    if self._released or deadline - time.monotonic() <= 0:
                        return row
        finally:
            with self._changed:
                self._waiting -= 1
                self._waited[clip_id] -= 1
                if not self._waited[clip_id]:
                    del self._waited[clip_id]
                    self._touched.pop(clip_id, None)

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
