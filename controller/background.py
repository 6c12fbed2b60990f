"""A loop on its own thread, stopped through an Event it checks between short waits."""
from __future__ import annotations

import threading
from typing import Optional


class BackgroundLoop:
    """Base of the controller's loops. A subclass implements ``run(stop)``, which
    returns once ``stop`` is set; ``start()`` and ``stop()`` are shared."""

    thread_name = "loop"

    def __init__(self):
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def run(self, stop: threading.Event) -> None:
        raise NotImplementedError

    def start(self):
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, args=(self._stop,), name=self.thread_name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None
