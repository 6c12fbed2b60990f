"""One job: fetch its clip from S3 into a temp file and analyse it.

A clip that is missing or undecodable gives a ``failed`` Result (final: no
retry can help); an AWS outage or a detector crash raises, so the job goes
back to the queue; on its ``max_receive``-th try the worker ends it with a
failed result naming the error (a worker that dies instead leaves it to the
dead-letter queue).
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path
from typing import Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, is_missing
from edgecloud.clock import utcnow
from edgecloud.config import DetectorSettings
from edgecloud.limits_settings import LimitsSettings
from edgecloud.protocol.containers import CLIP_TYPES
from edgecloud.protocol.messages import Job, Result
from edgecloud.result_store import ResultStore

log = logging.getLogger(__name__)


def failed_result(job_or_clip_id, why: str, processed_by: str, detector: str = "none") -> Result:
    """A final 'failed' result for a job (or just a clip id) that cannot be processed."""
    if isinstance(job_or_clip_id, Job):
        job = job_or_clip_id
        extra = dict(clip_id=job.clip_id, recorded_at=job.recorded_at, submitted_at=job.submitted_at)
    else:
        extra = dict(clip_id=job_or_clip_id)
    now = utcnow()
    return Result(
        **extra,
        status="failed",
        error=why,
        processed_by=processed_by,
        detector=detector,
        started_at=now,
        finished_at=now,
    )


def process_job(
    job: Job,
    aws: Aws,
    detector,
    settings: DetectorSettings,
    processed_by: str,
    results: Optional[ResultStore] = None,
    limits: Optional[LimitsSettings] = None,
    zones: Optional[dict] = None,
) -> Result:
    """Download the job's clip and run the pipeline on it, within ``limits`` (a clip over them, or
    past its budget, is failed), its objects placed in ``zones`` (its device's); with ``results``, its
    snapshot is stored there (before the result, so a result never names a snapshot that is not there)."""
    from edgecloud.pipeline import analyse_clip  # imports OpenCV; only workers need it

    suffix = "." + CLIP_TYPES.get(job.content_type, Path(job.key).suffix.lstrip(".") or "mp4")
    with tempfile.TemporaryDirectory(prefix="edgecloud-job-") as tmp:
        path = Path(tmp) / f"{job.clip_id}{suffix}"
        began = time.perf_counter()
        try:
            aws.s3.download_file(job.bucket, job.key, str(path))
        except ClientError as err:
            if is_missing(err):
                return failed_result(job, f"clip s3://{job.bucket}/{job.key} not found", processed_by, detector.name)
            raise
        download_s = time.perf_counter() - began
        log.info("clip %s downloaded (%d bytes, %.2f s)", job.clip_id, path.stat().st_size, download_s)
        snapshot = Path(tmp) / "snapshot.jpg" if results is not None else None
        result = analyse_clip(
            path,
            detector,
            settings,
            clip_id=job.clip_id,
            processed_by=processed_by,
            fps=job.fps,
            recorded_at=job.recorded_at,
            submitted_at=job.submitted_at,
            timings={"download": download_s},
            snapshot_path=snapshot,
            limits=limits,
            zones=zones,
        )
        if result.snapshot_key:
            results.put_snapshot(job.clip_id, snapshot.read_bytes())
        return result
