"""Recovery on start: uploads a killed controller left between "clip stored" and "job sent".

The ledger row of an upload stays 'storing' until its job (or result) is in, so
after a kill -9 the rows still 'storing' from before this process began are
exactly the clips that may have no job. One pass hands each to
:meth:`Intake.requeue_stranded`, retried until it succeeds (S3 or SQS may be
down when the controller comes back).
"""
from __future__ import annotations

import logging
import threading

from edgecloud.jobs import utcnow
from edgecloud.loops import BackgroundLoop

from .intake import Intake

log = logging.getLogger(__name__)


class StrandedUploads(BackgroundLoop):
    """Requeues the clips stranded by an earlier run of this controller, then ends."""

    thread_name = "stranded-uploads"

    def __init__(self, intake: Intake, *, retry_s: float = 5.0):
        self.intake = intake
        self.retry_s = retry_s
        self.started_at = utcnow()  # rows from before this moment belong to a dead process
        self.requeued = 0
        self.done = threading.Event()
        super().__init__()

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.requeued = self.intake.requeue_stranded(self.started_at)
            except Exception:
                log.exception("requeueing stranded uploads failed; retrying in %.0f s", self.retry_s)
                stop.wait(self.retry_s)
                continue
            self.done.set()
            return
