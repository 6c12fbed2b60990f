"""A loop on its own thread, stopped through an Event it checks between short waits.

The one start/stop for every background loop: the controller's scaling and
completions loops, the Pi's uploader and recorder, the worker's heartbeat;
and ``StartClose``, the ``with`` block for what owns processes or servers.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Optional


class BackgroundLoop:
    """A subclass implements ``run(stop)``, which returns once ``stop`` is set.

    ``start()`` is safe to call twice (one thread); ``stop()`` sets the event and
    joins with ``join_timeout_s`` (None: wait for the loop to end), and is safe twice.
    Used as a context manager it runs between ``__enter__`` and ``__exit__``.
    """

    thread_name = "loop"
    join_timeout_s: Optional[float] = 10.0

    def __init__(self):
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def run(self, stop: threading.Event) -> None:
        raise NotImplementedError

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self):
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self.run, args=(self._stop,), name=self.thread_name, daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: Optional[float] = None) -> None:
        self._stop.set()
        self._wake_for_stop()
        if self._thread is not None:
            self._thread.join(self.join_timeout_s if timeout is None else timeout)
            self._thread = None

    def _wake_for_stop(self) -> None:
        """Hook: wake a loop blocked on something other than the stop event."""

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class Tally(Counter):
    """What one pass of a loop did, counted by outcome, so tests need no threads or sleeps.
    A subclass names its ``outcomes``; reading or adding any other is an error, not a silent 0."""

    outcomes: tuple[str, ...] = ()

    def __getattr__(self, name: str) -> int:
        if name in type(self).outcomes:
            return self[name]
        raise AttributeError(name)

    def add(self, outcome: str, n: int = 1) -> None:
        if outcome not in self.outcomes:
            raise ValueError(f"{type(self).__name__} counts {self.outcomes}, not {outcome!r}")
        self[outcome] += n


class StartClose:
    """``with thing:`` calls ``thing.start()`` and, on the way out, ``thing.close()``:
    for what owns a process, a server or several loops (the agent, a controller)."""

    def start(self):
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.close()
