"""Keeps a job hidden from other workers while this one works on it."""
from __future__ import annotations

import logging
import threading
from typing import Callable, Optional

log = logging.getLogger(__name__)


class Heartbeat:
    """Every ``every`` seconds, set the message's visibility to ``extend_to`` seconds from now.

    A context manager: the beats run in a thread between ``__enter__`` and
    ``__exit__``; ``beat()`` does one, for callers (and tests) without a thread.
    """

    def __init__(self, sqs, queue_url: str, receipt_handle: str, *, every: float, extend_to: int,
                 on_beat: Optional[Callable[[int], None]] = None):
        self.sqs = sqs
        self.queue_url = queue_url
        self.receipt_handle = receipt_handle
        self.every = every
        self.extend_to = extend_to
        self.on_beat = on_beat
        self.beats = 0
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    def beat(self) -> None:
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=self.receipt_handle, VisibilityTimeout=self.extend_to)
        self.beats += 1
        if self.on_beat:
            self.on_beat(self.beats)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except Exception:  # a missed beat is survivable; the next one may land
                log.warning("visibility heartbeat failed", exc_info=True)

    def __enter__(self) -> "Heartbeat":
        self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
