"""The worker as an AWS Lambda function: ``edgecloud.worker.lambda_handler.handle``.

Two event sources start it. The jobs queue (``fleet.backend: lambda``): each
SQS record is one job, run by the same ``JobRunner`` as an EC2 worker's, with
``processed_by: lambda:<request id>``; records that failed for a reason a
retry may cure are returned as ``batchItemFailures`` (the event source mapping
has ``ReportBatchItemFailures``), so SQS redelivers just those and dead-letters
them after ``max_receive`` tries, exactly as for EC2 workers. The frames
bucket's notification (``edge.mode: frames``): each S3 record is one frame,
answered on its device's answers queue (``frames.answer_frame``).

Settings come from the function's environment (``EDGECLOUD_<SECTION>__<KEY>``);
clients and the detector are made once per execution environment and reused
while it stays warm. The detector loads at init (Lambda's init phase) and is
checked again before any record is touched: a function that cannot load it
fails the invocation (Lambda's ``Errors`` metric, the reason in its log), so
the event source deletes nothing and every record goes back to the queue; no
clip ends ``failed`` for it. It also reports itself ``not-ready`` in the workers
table, as one worker named ``lambda:<function name>``, so ``/v1/stats`` and the
fleet page show it with its reason.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Optional

from edgecloud.aws import Aws, Queues
from edgecloud.config import Settings, load
from edgecloud.workers import NOT_READY, WorkerStates

from .job_runner import JobRunner, NotReady, receive_count

log = logging.getLogger(__name__)

# Records are not started with less time than this left: they go back to the queue untouched.
MIN_TIME_LEFT_MS = 2_000


class Environment:
    """What one execution environment keeps between invocations."""

    def __init__(self, settings: Optional[Settings] = None):
        self.settings = settings or load()
        self.aws = Aws(self.settings.aws)
        self.queues = Queues(self.aws, self.settings)
        self.runner = JobRunner(self.settings, self.aws, self.queues)
        self.states = WorkerStates(self.aws, self.settings.tables.workers)
        self.init_s: Optional[float] = None

    @property
    def worker_id(self) -> str:
        """Its name in the workers table: one item for the function, however many environments it runs."""
        return f"lambda:{self.settings.function.name}"

    def warm_up(self) -> float:
        """Load the detector now (a cold start's model load); returns the seconds it took."""
        began = time.perf_counter()
        self.runner.detector  # noqa: B018 - the property loads the detector
        return time.perf_counter() - began

    def ready(self) -> None:
        """The detector, loaded before any record is handled; ``NotReady`` (failing the whole
        invocation, so every record returns to the queue untouched) when it cannot load."""
        if self.init_s is not None:
            return
        try:
            self.init_s = self.warm_up()
        except Exception as err:
            reason = f"detector {self.settings.detector.name} cannot load: {err}"
            log.error("not ready, no record handled: %s", reason)
            self.states.report(self.worker_id, NOT_READY, reason)
            raise NotReady(reason) from err


_environment: Optional[Environment] = None


def environment() -> Environment:
    global _environment
    if _environment is None:
        _environment = Environment()
    return _environment


if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
    # Lambda's init phase (a cold start): load the model before the first event, not during it;
    # Lambda's root handler sends INFO records to CloudWatch Logs.
    logging.getLogger().setLevel(logging.INFO)
    environment().ready()


def handle(event: dict, context) -> dict:
    """Lambda's entry point."""
    records = event.get("Records") or []
    environment().ready()
    if records and records[0].get("eventSource") == "aws:s3":
        from .frames import answer_frames

        return answer_frames(environment(), records, context)
    return handle_jobs(environment(), records, context)


def handle_jobs(env: Environment, records: list[dict], context) -> dict:
    """Run each job record; the ones to retry are reported, the rest the event source deletes."""
    env.ready()
    processed_by = f"lambda:{context.aws_request_id}"
    failures = []
    for record in records:
        if context.get_remaining_time_in_millis() < MIN_TIME_LEFT_MS:
            log.warning("too little time left for job %s; handing it back", record["messageId"])
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        try:
            outcome = env.runner.run(record["body"], processed_by)
            log.info("job %s: %s", record["messageId"], outcome)
        except Exception as err:
            if not env.runner.give_up(record["body"], receive_count(record), err, processed_by):
                log.exception("job %s failed for a reason outside the clip; it will be retried", record["messageId"])
                failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}
