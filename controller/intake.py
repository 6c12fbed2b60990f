"""Accepting one uploaded clip: store it once, then either record the edge's
result or queue a job. Idempotent on the clip id, so an edge that retries an
upload whose 201 it never saw does no harm."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Callable, Optional

from pydantic import BaseModel, ConfigDict, Field

from edgecloud.jobs import DEVICE_RE, Job, Result, parse_clip_id, utcnow

from .ledger import Ledger
from .metrics import Metrics
from .store import ClipStore

log = logging.getLogger(__name__)


class UploadMetadata(BaseModel):
    """The ``metadata`` form field of POST /v1/clips."""

    model_config = ConfigDict(extra="ignore")

    clip_id: Optional[str] = Field(None, description="Edge-made id (new_clip_id); made here when absent.")
    device_id: str = Field(pattern=DEVICE_RE.pattern)
    recorded_at: Optional[datetime] = None
    fps: Optional[float] = Field(None, gt=0, le=240)
    content_type: Optional[str] = None


@dataclass(frozen=True)
class Accepted:
    clip_id: str
    status: str
    duplicate: bool


class Intake:
    """Stores clips and results (S3), queues jobs (SQS) and records both in the ledger."""

    def __init__(self, store: ClipStore, ledger: Ledger, metrics: Optional[Metrics] = None,
                 on_finished: Optional[Callable[[Result], None]] = None):
        self.store = store
        self.ledger = ledger
        self.metrics = metrics
        self.on_finished = on_finished  # told of each edge result stored (notifications)

    def accept(self, clip_id: str, meta: UploadMetadata, content_type: str, body: BinaryIO, size: int,
               result: Optional[Result] = None, *, snapshot: Optional[bytes] = None) -> Accepted:
        recorded_at_id, device_id = parse_clip_id(clip_id)
        known = self.ledger.get(clip_id)
        if known is not None:
            return self._count(Accepted(clip_id, known.status, True), "duplicate")
        if self.store.clip_exists(clip_id, content_type):
            # Stored by an earlier controller whose ledger is gone: adopt it, store nothing.
            earlier = self.store.results.get(clip_id)
            status = earlier.status if earlier else "queued"
            self.ledger.add(clip_id, device_id, status, utcnow(), processed_by=earlier and earlier.processed_by)
            return self._count(Accepted(clip_id, status, True), "duplicate")

        now = utcnow()
        if not self.ledger.add(clip_id, device_id, "queued", now):  # a concurrent upload of the same id won
            return self._count(Accepted(clip_id, self.ledger.get(clip_id).status, True), "duplicate")
        recorded_at = meta.recorded_at or recorded_at_id
        try:
            key = self.store.put_clip(clip_id, body, content_type, {
                "device-id": device_id,
                "fps": "" if meta.fps is None else f"{meta.fps:g}",
                "recorded-at": recorded_at.isoformat(),
                "content-type": content_type,
            })
            if result is not None:
                # The snapshot is named only when it is stored, whatever key the edge wrote.
                snapshot_at = self.store.results.put_snapshot(clip_id, snapshot) if snapshot else None
                result = result.model_copy(update={"submitted_at": result.submitted_at or now,
                                                   "snapshot_key": snapshot_at})
                self.store.results.put(result)
                self.ledger.mark_finished(clip_id, result.status, utcnow(), processed_by="edge",
                                          process_s=result.timings.get("total"), error=result.error, result=result)
            else:
                self.store.send_job(Job(
                    clip_id=clip_id, bucket=self.store.clips_bucket, key=key, device_id=device_id, fps=meta.fps,
                    content_type=content_type, recorded_at=recorded_at, submitted_at=now,
                ))
        except Exception:
            # Nothing half-recorded: the edge keeps the clip and its retry starts afresh. A clip
            # left in S3 would make that retry a 'duplicate' with no job and no result, stuck queued.
            try:
                self.store.delete_clip(clip_id, content_type)  # also when its upload only seemed to fail
            except Exception:
                log.warning("could not remove half-stored clip %s", clip_id, exc_info=True)
            self.ledger.forget(clip_id)
            raise
        if self.metrics:
            self.metrics.upload_bytes.inc(size)
        if result is not None and self.on_finished is not None:
            self.on_finished(result)
        status = result.status if result is not None else "queued"
        log.info("clip %s stored (%d bytes, %s)", clip_id, size, "edge result" if result else "queued")
        return self._count(Accepted(clip_id, status, False), "with_result" if result else "queued")

    def _count(self, accepted: Accepted, outcome: str) -> Accepted:
        if self.metrics:
            self.metrics.uploads.labels(outcome).inc()
        return accepted

