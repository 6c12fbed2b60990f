"""Recovery on start: uploads a killed controller left between "clip stored" and "job sent".

The ledger row of an upload stays 'storing' until its job (or result) is in, so
after a kill -9 the rows still 'storing' from before this process began are
exactly the clips that may have no job. One pass hands each to
:meth:`Intake.requeue_stranded`, retried until it succeeds (S3 or SQS may be
down when the controller comes back).

With a shared ledger (DynamoDB) another live controller may be storing an
upload right now, and a dead one's rows would wait for some restart: so a row
counts as stranded once it has been storing ``ABANDONED_AFTER_S`` (longer than
any live upload takes), and every controller sweeps for such rows that often.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from typing import Callable

from edgecloud.clock import utcnow
from edgecloud.loops import BackgroundLoop

from .intake import Intake

log = logging.getLogger(__name__)
ABANDONED_AFTER_S = 600.0


class StrandedUploads(BackgroundLoop):
    """Requeues the clips stranded by an earlier run of this controller, then ends."""

    thread_name = "stranded-uploads"

    def __init__(
        self, intake: Intake, *, retry_s: float = 5.0, shared: bool = False, clock: Callable[[], datetime] = utcnow
    ):
        self.intake = intake
        self.retry_s = retry_s
        self.shared = shared  # other controllers write the same ledger
        self.clock = clock
        self.started_at = clock()  # alone: rows from before this moment belong to a dead process
        self.requeued = 0
        self.done = threading.Event()  # the first sweep is over
        super().__init__()

    def sweep(self) -> int:
        """Requeue (or forget) the stranded rows once; returns how many were queued or finished."""
        before = self.clock() - timedelta(seconds=ABANDONED_AFTER_S) if self.shared else self.started_at
        found = self.intake.requeue_stranded(before)
        self.requeued += found
        return found

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.sweep()
            except Exception:
                log.exception("requeueing stranded uploads failed; retrying in %.0f s", self.retry_s)
                stop.wait(self.retry_s)
                continue
            self.done.set()
            if not self.shared:
                return
            stop.wait(ABANDONED_AFTER_S / 2)
