"""Keeps a job hidden from other workers while this one works on it."""

from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

from edgecloud.loops import BackgroundLoop

log = logging.getLogger(__name__)


class Heartbeat(BackgroundLoop):
    """Every ``every`` seconds, set the message's visibility to ``extend_to`` seconds from now.

    A context manager: the beats run in a thread between ``__enter__`` and
    ``__exit__``; ``beat()`` does one, for callers (and tests) without a thread.
    """

    def __init__(
        self,
        extend: Callable[[int], None],
        *,
        every: float,
        extend_to: int,
        on_beat: Optional[Callable[[int], None]] = None,
    ):
        super().__init__()
        self.extend = extend  # sets the job's visibility to this many seconds from now
        self.every = every
        self.extend_to = extend_to
        self.on_beat = on_beat
        self.beats = 0

    thread_name = "heartbeat"
    join_timeout_s = None  # a beat in flight finishes before the job is let go

    def beat(self) -> None:
        self.extend(self.extend_to)
        self.beats += 1
        if self.on_beat:
            self.on_beat(self.beats)

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.every):
            try:
                self.beat()
            except Exception:  # a missed beat is survivable; the next one may land
                log.warning("visibility heartbeat failed", exc_info=True)
