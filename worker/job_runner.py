"""One job message, start to end: the logic every engine shares (an EC2 worker's
poll loop, the Lambda function's handler).

``JobRunner.run`` validates the message, answers a duplicate with the stored
result, reports ``started``, runs the clip processor (``process.process_job``),
stores the result first-write-wins and reports its completion. It never deletes
the message: the poll loop deletes it itself, Lambda's event source deletes
every record not reported as failed. An error outside the clip raises, so the
job is tried again; ``give_up`` ends it on its last allowed try.
"""

from __future__ import annotations

import logging
import time
from contextlib import nullcontext
from typing import Callable, ContextManager, Optional

from pydantic import ValidationError

from edgecloud.aws import Aws, Queues
from edgecloud.config import Settings
from edgecloud.protocol.ids import clip_id_in
from edgecloud.protocol.keys import result_key
from edgecloud.protocol.messages import Completion, Job, Result
from edgecloud.result_store import ResultStore

from .process import failed_result, process_job

log = logging.getLogger(__name__)


class NotReady(Exception):
    """An engine cannot process jobs (its detector does not load), so it takes none; the message says why."""


class JobRunner:
    """Runs job messages for one engine; ``detector`` is made on first use (each engine loads it before
    its first job: ``Worker.ready``, the function's ``Environment.ready``)."""

    def __init__(self, settings: Settings, aws: Aws, queues: Queues, *, detector=None):
        self.settings = settings
        self.aws = aws
        self.queues = queues
        self.results = ResultStore(aws.s3, settings.storage.results_bucket)
        self._detector = detector

    @property
    def detector(self):
        if self._detector is None:
            from edgecloud.detect import detector_for

            self._detector = detector_for(self.settings)
        return self._detector

    def run(self, body: str, processed_by: str, working: Callable[[], ContextManager] = nullcontext) -> str:
        """Process one message body to the end; the outcome is ``done``, ``failed``,
        ``duplicate`` or ``malformed``. ``working`` wraps the processing (visibility
        heartbeat, scale-in protection)."""
        try:
            job = Job.model_validate_json(body)
        except ValidationError as err:
            self._malformed(body, err, processed_by)
            return "malformed"
        existing = self.results.get(job.clip_id)
        if existing is not None:
            # Delivered twice: the first result stands, byte for byte.
            log.info("clip %s already has a result (%s); not processing again", job.clip_id, existing.status)
            self.complete(existing, process_s=None)
            return "duplicate"
        with working():
            self.send(Completion(event="started", clip_id=job.clip_id, processed_by=processed_by))
            began = time.perf_counter()
            result = process_job(
                job,
                self.aws,
                self.detector,
                self.settings.detector,
                processed_by,
                self.results,
                self.settings.limits,
                self.settings.zones.of(job.device_id),
            )
            result = self.results.put_first(result)
            self.complete(result, process_s=round(time.perf_counter() - began, 3))
        log.info("clip %s %s: %s", job.clip_id, result.status, result.labels or result.error or "nothing found")
        return "done" if result.status == "done" else "failed"

    def give_up(self, body: str, tries: int, err: Exception, processed_by: str) -> bool:
        """On a job's last allowed try, end it with a failed result that names the error
        (the dead-letter queue's result could only guess why); False when it may be
        tried again, or the failure could not be recorded (the dead-letter queue then ends it)."""
        clip_id = clip_id_in(body)
        if tries < self.settings.queues.max_receive or clip_id is None:
            return False
        log.exception("clip %s failed on try %d of %d; giving up", clip_id, tries, self.settings.queues.max_receive)
        try:
            job = Job.model_validate_json(body)  # for its times; it was readable to get this far
        except ValidationError:
            job = clip_id
        try:
            result = self.results.put_first(
                failed_result(job, f"failed {tries} times; last error: {type(err).__name__}: {err}", processed_by)
            )
            self.complete(result, process_s=None)
        except Exception:
            log.warning("could not record the failure of %s", clip_id, exc_info=True)
            return False
        return True

    def _malformed(self, body: str, err: ValidationError, processed_by: str) -> None:
        clip_id = clip_id_in(body)
        if clip_id is None:
            log.error("dropping a job that names no valid clip: %.200s", body)
        elif self.results.get(clip_id) is None:
            result = self.results.put_first(
                failed_result(clip_id, f"malformed job message: {err.errors()[0]['msg']}", processed_by)
            )
            self.complete(result, process_s=None)

    def complete(self, result: Result, process_s: Optional[float]) -> None:
        self.send(
            Completion(
                event=result.status,
                clip_id=result.clip_id,
                processed_by=result.processed_by,
                result_key=result_key(result.clip_id),
                process_s=process_s,
            )
        )

    def send(self, completion: Completion) -> None:
        self.aws.sqs.send_message(QueueUrl=self.queues.completions, MessageBody=completion.model_dump_json())


def receive_count(message: dict) -> int:
    """How many times SQS has delivered this message (a poll's message, or a Lambda event record)."""
    attributes = message.get("Attributes") or message.get("attributes") or {}
    return int(attributes.get("ApproximateReceiveCount", "1"))
