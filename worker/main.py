"""The worker loop: long-poll one job, process it, report, delete; retire when idle.

``process_batch()`` handles at most one message and returns counts, so tests
drive the worker step by step with no threads or sleeps; ``run()`` loops it
and applies the retirement rule (``edgecloud.retirement``). Retire asks: when a poll
finds no job, an idle worker the rule would let go on request takes one of the
controller's asks from the retire queue (if any) and retires (worker/retire_asks.py).
Readiness: before its first receive the worker loads its detector; if it cannot,
it takes no job, reports itself ``not-ready`` with the reason and raises
``NotReady`` (``edgecloud worker run`` exits non-zero; systemd restarts it).
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import threading
import time
from contextlib import contextmanager
from typing import Callable, Optional

from botocore.exceptions import ClientError

from edgecloud import retirement
from edgecloud.aws import Aws, Queues
from edgecloud.config import Settings
from edgecloud.loops import Tally
from edgecloud.protocol.states import FINAL
from edgecloud.workers import BUSY, NOT_READY, POLLING, WorkerStates

from . import retirers
from .heartbeat import Heartbeat
from .identity import on_kubernetes
from .job_runner import JobRunner, NotReady, receive_count
from .retire_asks import RetireAsks

log = logging.getLogger(__name__)


class Stopped(Exception):
    """Raised from a signal handler to leave a long poll at once when nothing is in hand."""


class Abandon(BaseException):
    """Raised from a second stop signal with a job in hand: hand it back now, not after a kill."""


class BatchCounts(Tally):
    """What one ``process_batch`` did."""

    outcomes = ("received", "done", "failed", "duplicate", "malformed", "released", "errors")


class Worker(RetireAsks):
    """Processes jobs from the queue until stopped or retired."""

    def __init__(
        self,
        settings: Settings,
        aws: Optional[Aws] = None,
        *,
        queues: Optional[Queues] = None,
        detector=None,
        instance_id: Optional[str] = None,
        retirer=None,
        policy=None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.settings = settings
        self.aws = aws or Aws(settings.aws)
        self.queues = queues or Queues(self.aws, settings)
        self.runner = JobRunner(settings, self.aws, self.queues, detector=detector)
        self.results = self.runner.results
        kubernetes = on_kubernetes(settings.worker)
        if kubernetes:  # an id here is the node's: never report under it, never terminate it
            instance_id = None
        self.instance_id = instance_id
        # In a pod the host name is the pod's name: what `kubectl get pods` lists.
        self.processed_by = instance_id or (
            f"pod:{socket.gethostname()}" if kubernetes else f"local-{socket.gethostname()}-{os.getpid()}"
        )
        self.retirer = retirer or retirers.for_worker(settings, self.aws, instance_id)
        # Under Kubernetes KEDA decides how many pods run: a pod that left when idle would be restarted.
        self.policy = policy or (retirement.Never() if kubernetes else retirement.from_settings(settings.worker))
        self.clock = clock
        self.started = clock()
        self.tasks_done = 0
        self.holding = False
        self.polling = False  # inside the long poll, where a stop signal may cut in at once
        self.asks_taken = 0
        self._asks_warned = False
        self._stop = threading.Event()
        self.states = WorkerStates(self.aws, settings.tables.workers)
        self.is_ready = False

    def ready(self) -> None:
        """Load the detector, once, before any job is taken; ``NotReady`` (reported to the workers
        table, under the pod's or process's name off the fleet) when it cannot load."""
        if self.is_ready:
            return
        try:
            self.runner.detector  # noqa: B018 - the property loads the detector
        except Exception as err:  # any failure to load: missing weights, a package, a corrupt file
            reason = f"detector {self.settings.detector.name} cannot load: {err}"
            self.states.report(self.instance_id or self.processed_by, NOT_READY, reason)
            raise NotReady(reason) from err
        self.is_ready = True

    def report(self, state: str) -> None:
        """Tell the autoscaler this worker's state (only a fleet member, which has an instance id)."""
        if self.instance_id:
            self.states.report(self.instance_id, state)

    @property
    def detector(self):
        return self.runner.detector

    def stop(self) -> None:
        self._stop.set()

    def on_signal(self) -> None:
        """SIGTERM/SIGINT: finish a job in hand; leave a long poll at once (``Stopped``).
        Only the poll itself is cut short: anywhere else a received job could be
        dropped unseen, hidden for its whole visibility timeout instead of handed back."""
        if self.holding and self.stopping:  # asked twice: a kill may follow, and would hide the job
            raise Abandon()
        self.stop()
        if self.polling and not self.holding:
            raise Stopped()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    # -- one message ------------------------------------------------------------

    def process_batch(self, wait_seconds: Optional[int] = None) -> BatchCounts:
        counts = BatchCounts()
        wait = self.settings.worker.wait_seconds if wait_seconds is None else wait_seconds
        self.ready()
        if not self.stopping:
            self.report(POLLING)  # the first one ends "booting" for the autoscaler
        self.polling = True
        try:
            messages = self.aws.sqs.receive_message(  # told to stop just now: no long wait
                QueueUrl=self.queues.jobs,
                MaxNumberOfMessages=1,
                WaitTimeSeconds=0 if self.stopping else wait,
                AttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
        finally:
            self.polling = False
        for message in messages:
            counts.add("received")
            if self.stopping:  # arrived as we were told to stop: hand it straight back
                self._set_visibility(message, 0)
                counts.add("released")
                continue
            self.holding = True
            self.report(BUSY)
            try:
                outcome = self.handle(message)
            except Abandon:
                log.warning("told twice to stop: handing the job back unfinished")
                self._set_visibility(message, 0)
                raise Stopped() from None
            except Exception as err:
                outcome = self._give_up(message, err)
                if outcome is None:
                    log.exception("job failed for a reason outside the clip; it will be retried")
                    self._set_visibility(message, min(60, 10 * receive_count(message)))
                    outcome = "errors"
            finally:
                self.holding = False
            counts.add(outcome)
        return counts

    def handle(self, message: dict) -> str:
        """Process one message to the end and delete it; the outcome names a ``BatchCounts`` field."""
        outcome = self.runner.run(message["Body"], self.processed_by, lambda: self._working(message))
        self._delete(message)
        if outcome in FINAL:
            self.tasks_done += 1
        return outcome

    @contextmanager
    def _working(self, message: dict):
        """While a job is processed: protected from scale-in, its visibility kept extended."""
        self.retirer.protect(True)
        try:
            visibility = self.settings.queues.visibility_timeout
            # A beat must land well before the job's visibility runs out, whatever the config says.
            with Heartbeat(
                functools.partial(self._change_visibility, message),
                every=min(self.settings.worker.heartbeat_seconds, visibility / 2),
                extend_to=visibility,
            ):
                yield
        finally:
            self.retirer.protect(False)

    def _give_up(self, message: dict, err: Exception) -> Optional[str]:
        """On a job's last allowed try, end it with a failed result (``JobRunner.give_up``)
        and delete it; None when it may be tried again."""
        if not self.runner.give_up(message["Body"], receive_count(message), err, self.processed_by):
            return None
        try:
            self._delete(message)
        except Exception:  # the failed result stands; the dead-letter queue ends the message
            log.warning("could not delete the failed job", exc_info=True)
            return None
        return "failed"

    # -- AWS --------------------------------------------------------------------

    def _delete(self, message: dict) -> None:
        self.aws.sqs.delete_message(QueueUrl=self.queues.jobs, ReceiptHandle=message["ReceiptHandle"])

    def _change_visibility(self, message: dict, seconds: int) -> None:
        self.aws.sqs.change_message_visibility(
            QueueUrl=self.queues.jobs, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=seconds
        )

    def _set_visibility(self, message: dict, seconds: int) -> None:
        """Hand a job back (or hide it longer), where failing to is survivable."""
        try:
            self._change_visibility(message, seconds)
        except ClientError:
            log.warning("could not hand a job back; it reappears after its visibility timeout", exc_info=True)

    # -- the loop ---------------------------------------------------------------

    def run(self, *, once: bool = False) -> str:
        """Poll until stopped ("stopped"), retired ("retired"), or one message with ``once`` ("once");
        ``NotReady`` before the first poll when the detector cannot load."""
        idle_since = self.clock()
        just_worked = False
        try:
            while not self.stopping:
                # After a job the next poll is short: a worker with nothing left learns it at
                # once, and may take a retire ask now rather than after a long poll.
                counts = self.process_batch(0 if just_worked else None)
                if once and counts.received:
                    return "once"
                now = self.clock()
                just_worked = bool(counts.received)
                if counts.received:
                    idle_since = now
                idle_s, uptime_s = now - idle_since, now - self.started
                if self.policy.should_retire(idle_s, self.holding, tasks_done=self.tasks_done, uptime_s=uptime_s):
                    log.info("idle %.0f s after %d jobs: retiring", idle_s, self.tasks_done)
                    if self._retire():
                        return "retired"
                if not counts.received and self._retire_if_asked(idle_s, uptime_s):
                    return "retired"
        except Stopped:
            pass
        log.info("stopped after %d jobs", self.tasks_done)
        return "stopped"
