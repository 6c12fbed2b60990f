"""Consumes what workers report (the completions queue) and what they never
could (the dead-letter queue), keeping the ledger current.

A job in the dead-letter queue was received ``max_receive`` times without
ever finishing (its worker crashed, hung or was killed each time): it ends
with a ``failed`` result that says so, never silence and never a retry loop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Optional

from pydantic import ValidationError

from edgecloud.clock import utcnow
from edgecloud.loops import BackgroundLoop, Tally
from edgecloud.protocol.ids import clip_id_in
from edgecloud.protocol.messages import Completion, Result

from .resources import Resources

log = logging.getLogger(__name__)


class Counts(Tally):
    """What one pass of the completions or dead-letter queue handled."""

    outcomes = ("started", "done", "failed", "dead_lettered", "malformed", "deleted")


class CompletionsConsumer(BackgroundLoop):
    """Reads completions and dead letters until stopped; ``poll_once``/``drain_dead_letters`` do one pass."""

    thread_name = "completions"

    def __init__(
        self,
        parts: Resources,
        *,
        wait_seconds: int = 2,
        dead_letter_every_s: float = 5.0,
        on_finished: Optional[Callable[[Result], None]] = None,
    ):
        super().__init__()
        self.parts = parts  # settings, aws, queues, ledger, store, metrics: the app's own
        self.wait_seconds = wait_seconds
        self.dead_letter_every_s = dead_letter_every_s
        self.on_finished = on_finished  # told of each result that finishes a clip (notifications)

    # -- one pass ---------------------------------------------------------------

    def _receive(self, queue_url: str, wait_seconds: int) -> list[dict]:
        return self.parts.aws.sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            AttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])

    def _delete(self, queue_url: str, messages: list[dict]) -> int:
        if not messages:
            return 0
        reply = self.parts.aws.sqs.delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(n), "ReceiptHandle": m["ReceiptHandle"]} for n, m in enumerate(messages)],
        )
        for failure in reply.get("Failed", []):
            log.warning("could not delete message %s: %s", failure.get("Id"), failure.get("Message"))
        return len(reply.get("Successful", []))

    def poll_once(self, wait_seconds: Optional[int] = None) -> Counts:
        """Apply one batch of completion messages to the ledger, then delete them in one call."""
        counts = Counts()
        messages = self._receive(
            self.parts.queues.completions, self.wait_seconds if wait_seconds is None else wait_seconds
        )
        for message in messages:
            try:
                completion = Completion.model_validate_json(message["Body"])
            except ValidationError:
                log.warning("dropping malformed completion: %.200s", message["Body"])
                counts.add("malformed")
                continue
            self.apply(completion)
            counts.add(completion.event)
        counts.add("deleted", self._delete(self.parts.queues.completions, messages))
        return counts

    def apply(self, completion: Completion) -> None:
        if self.parts.metrics:
            self.parts.metrics.completions.labels(completion.event).inc()
        if completion.event == "started":
            self.parts.ledger.mark_started(completion.clip_id, completion.at, completion.processed_by)
            return
        result = self.parts.store.results.get(completion.clip_id)
        error = None
        if completion.event == "failed":
            error = result.error if result else "worker reported failure"
        if self.parts.ledger.mark_finished(
            completion.clip_id,
            completion.event,
            completion.at,
            processed_by=completion.processed_by,
            process_s=completion.process_s,
            error=error,
            result=result,
        ):
            row = self.parts.ledger.get(completion.clip_id)
            if self.parts.metrics and row and row.upload_to_result_s is not None and completion.event == "done":
                self.parts.metrics.upload_to_result.observe(row.upload_to_result_s)
            if result is not None and self.on_finished is not None:
                self.on_finished(result)

    def drain_dead_letters(self, wait_seconds: int = 0) -> Counts:
        """Give every dead-lettered job a failed result (unless one exists) and delete it."""
        counts = Counts()
        messages = self._receive(self.parts.queues.dead_letter, wait_seconds)
        for message in messages:
            clip_id = clip_id_in(message["Body"])
            if clip_id is None:
                log.error("dead letter without a clip id, dropped: %.200s", message["Body"])
                counts.add("malformed")
                continue
            # Our own receive counts too; the rest were the workers' tries.
            receives = max(1, int(message.get("Attributes", {}).get("ApproximateReceiveCount", "1")) - 1)
            self.fail_dead_letter(clip_id, receives)
            counts.add("dead_lettered")
        counts.add("deleted", self._delete(self.parts.queues.dead_letter, messages))
        return counts

    def fail_dead_letter(self, clip_id: str, receives: int) -> None:
        existing = self.parts.store.results.get(clip_id)
        if existing is not None:
            self._adopt(existing)
            return
        row = self.parts.ledger.get(clip_id)
        why = (row.error if row and row.error else None) or "no worker finished it (crashed, killed or timed out)"
        now = utcnow()
        result = Result(
            clip_id=clip_id,
            status="failed",
            error=f"dead-lettered after {receives} receives: {why}",
            processed_by=(row.processed_by if row and row.processed_by else "controller"),
            detector="none",
            submitted_at=row.submitted_at if row else None,
            finished_at=now,
        )
        stored = self.parts.store.results.put_first(result)
        if stored is not result:  # a late worker's result landed since we looked: it stands
            self._adopt(stored)
            return
        self.parts.ledger.mark_finished(clip_id, "failed", now, error=result.error, result=result)
        if self.parts.metrics:
            self.parts.metrics.dead_lettered.inc()
        log.warning("clip %s %s", clip_id, result.error)

    def _adopt(self, existing: Result) -> None:
        # A worker finished it but died before deleting the job: its result stands.
        self.parts.ledger.mark_finished(
            existing.clip_id,
            existing.status,
            existing.finished_at or utcnow(),
            processed_by=existing.processed_by,
            error=existing.error,
            result=existing,
        )

    # -- the loop ---------------------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        next_dead_letter_check = 0.0
        while not stop.is_set():
            try:
                self.poll_once()
                if time.monotonic() >= next_dead_letter_check:
                    self.drain_dead_letters()
                    next_dead_letter_check = time.monotonic() + self.dead_letter_every_s
            except Exception:
                log.exception("completions pass failed; retrying")
                stop.wait(2.0)
