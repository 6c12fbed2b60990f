"""Accepting one uploaded clip: store it once, then either record the edge's
result or queue a job. Idempotent on the clip id, so an edge that retries an
upload whose 201 it never saw does no harm; a retry that overlaps the first
upload hears "in progress" (409), never "stored" before it is."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import BinaryIO, Callable, Optional

from edgecloud.clock import utcnow
from edgecloud.protocol.containers import CLIP_TYPES
from edgecloud.protocol.ids import ClipId
from edgecloud.protocol.keys import clip_key
from edgecloud.protocol.messages import Job, Result, UploadMetadata

from .clip_row import ClipRow
from .ledger import DROPPED, STORING, Ledger
from .metrics import Metrics
from .store import ClipStore

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accepted:
    clip_id: str
    status: str
    duplicate: bool


class UploadInProgress(Exception):
    """Another upload of this clip is being stored right now: try again shortly (409).

    Never "duplicate": that upload may still fail, and an edge told "stored" deletes its copy."""


class Intake:
    """Stores clips and results (S3), queues jobs (SQS) and records both in the ledger.

    The ledger row is 'storing' until the clip and its job (or the edge's result) are both in;
    only then may a retry hear "duplicate". A row left 'storing' by a killed controller is
    finished by :func:`~edgecloud.controller.reconcile.requeue_stranded` on restart."""

    def __init__(
        self,
        store: ClipStore,
        ledger: Ledger,
        metrics: Optional[Metrics] = None,
        on_finished: Optional[Callable[[Result], None]] = None,
    ):
        self.store = store
        self.ledger = ledger
        self.metrics = metrics
        self.on_finished = on_finished  # told of each edge result stored (notifications)

    def accept(
        self,
        clip_id: str,
        meta: UploadMetadata,
        content_type: Optional[str],
        body: Optional[BinaryIO],
        size: int,
        result: Optional[Result] = None,
        *,
        snapshot: Optional[bytes] = None,
        admit: Callable[[], None] = lambda: None,
    ) -> Accepted:
        """Store a clip new to the ledger, or answer for one it holds. ``admit`` is called for a new
        clip only, before anything is kept (the daily quota: it raises to refuse). ``body`` None: the
        record of a clip whose video the Pi dropped (``meta.video_dropped``)."""
        clip_id = ClipId(clip_id)  # a ClipId already from the upload form: not parsed again
        device_id = clip_id.device
        known = self.ledger.get(clip_id)
        if known is None:
            admit()
            if self.ledger.add(clip_id, device_id, STORING, utcnow(), video_dropped=body is None):
                if body is None:
                    return self._record(clip_id, meta, result, snapshot)
                return self._store(clip_id, meta, content_type, body, size, result, snapshot)
        known = known or self.ledger.get(clip_id)
        if known is None or known.status == STORING:  # a concurrent upload of the same id is under way
            self._count_outcome("in_progress")
            raise UploadInProgress(f"clip {clip_id} is being stored by another upload; retry shortly")
        return self._count(Accepted(clip_id, known.status, True), "duplicate")

    def _store(
        self,
        clip_id: str,
        meta: UploadMetadata,
        content_type: str,
        body: BinaryIO,
        size: int,
        result: Optional[Result],
        snapshot: Optional[bytes],
    ) -> Accepted:
        row = self.ledger.get(clip_id)
        stored_here = False
        try:
            recorded_at = meta.recorded_at or ClipId(clip_id).recorded_at
            stored_here = (
                self.store.put_clip(
                    clip_id,
                    body,
                    content_type,
                    {
                        "device-id": row.device_id,
                        "fps": "" if meta.fps is None else f"{meta.fps:g}",
                        "recorded-at": recorded_at.isoformat(),
                        "content-type": content_type,
                    },
                )
                is not None
            )
            if not stored_here:
                # Stored by a controller whose ledger is gone (or killed before its job went):
                # keep the first copy, but make sure it has its job or result.
                status = self.finish(row, meta, content_type, result, adopted=True)
                return self._count(Accepted(clip_id, status, True), "duplicate")
            status = self.finish(row, meta, content_type, result, adopted=False, snapshot=snapshot)
        except Exception:
            # Nothing half-recorded: the edge keeps the clip and its retry starts afresh.
            if stored_here:
                try:
                    self.store.delete_clip(clip_id, content_type)
                except Exception:
                    log.warning("could not remove half-stored clip %s", clip_id, exc_info=True)
            self.ledger.forget(clip_id)
            raise
        if self.metrics:
            self.metrics.upload_bytes.inc(size)
        log.info("clip %s stored (%d bytes, %s)", clip_id, size, "edge result" if result else "queued")
        return self._count(Accepted(clip_id, status, False), "with_result" if result else "queued")

    def _record(
        self, clip_id: str, meta: UploadMetadata, result: Optional[Result], snapshot: Optional[bytes]
    ) -> Accepted:
        """A clip without its video: its result (if the Pi analysed it) is stored as any edge result;
        without one it ends 'dropped' at once. No job: there is nothing for a worker to read."""
        try:
            if result is None:
                self.ledger.mark_finished(clip_id, DROPPED, utcnow(), processed_by="edge")
                status = DROPPED
            else:
                status = self.finish(self.ledger.get(clip_id), meta, None, result, adopted=False, snapshot=snapshot)
        except Exception:
            self.ledger.forget(clip_id)  # the edge keeps the record and its retry starts afresh
            raise
        log.warning(
            "clip %s arrived without its video (the Pi's spool dropped it)%s: %s",
            clip_id,
            ", with the Pi's result" if result else "",
            status,
        )
        return self._count(Accepted(clip_id, status, False), "video_dropped")

    def finish(
        self,
        row: ClipRow,
        meta: UploadMetadata,
        content_type: Optional[str],
        result: Optional[Result],
        *,
        adopted: bool,
        snapshot: Optional[bytes] = None,
    ) -> str:
        """The stored clip's result (the edge's, or one already in S3) or its job; returns its status."""
        clip_id = row.clip_id
        earlier = self.store.results.get(clip_id) if adopted else None
        fresh = None
        if earlier is None and result is not None:
            # The snapshot is named only when it is stored, whatever key the edge wrote.
            snapshot_at = self.store.results.put_snapshot(clip_id, snapshot) if snapshot else None
            fresh = result.model_copy(
                update={"submitted_at": result.submitted_at or row.submitted_at, "snapshot_key": snapshot_at}
            )
            earlier = self.store.results.put_first(fresh)
        if earlier is not None:
            finished = self.ledger.mark_finished(
                clip_id,
                earlier.status,
                utcnow(),
                processed_by=earlier.processed_by,
                process_s=earlier.timings.get("total"),
                error=earlier.error,
                result=earlier,
            )
            if finished and earlier is fresh and self.on_finished is not None:
                self.on_finished(earlier)
            return earlier.status
        # A job may go twice (a retry of a clip whose first job did go): workers write results first-write-wins.
        self.store.send_job(
            Job(
                clip_id=clip_id,
                bucket=self.store.clips_bucket,
                key=clip_key(clip_id, CLIP_TYPES[content_type]),
                device_id=row.device_id,
                fps=meta.fps,
                content_type=content_type,
                recorded_at=meta.recorded_at or ClipId(clip_id).recorded_at,
                submitted_at=row.submitted_at,
            )
        )
        try:
            self.ledger.mark_queued(clip_id)
        except Exception:
            # The job is out and the clip stored: undoing the upload now would delete the clip from
            # under its job. The row stays 'storing'; the sweep of stranded uploads moves it on.
            log.warning("clip %s queued, but its ledger row was not updated", clip_id, exc_info=True)
        return "queued"

    def requeue_stranded(self, before: datetime) -> int:
        """Finish uploads a killed controller left 'storing' (begun before ``before``): a clip in S3
        gets its job (again, maybe) or its stored result; one never stored is forgotten, and its
        edge, which never heard 201, sends it again. Returns how many clips were queued or finished."""
        finished = 0
        for row in self.ledger.storing_since_before(before):
            found = self.store.find_clip(row.clip_id)
            if found is None:
                self.ledger.forget(row.clip_id)
                continue
            status = self.resume(row, *found)
            log.warning(
                "clip %s was stored but never queued (controller stopped mid-upload): now %s", row.clip_id, status
            )
            finished += 1
        return finished

    def resume(self, row: ClipRow, content_type: str, head: dict) -> str:
        """Move on a 'storing' row whose clip is in S3 (``store.find_clip``: its type and HEAD):
        record the result stored for it, or send its job; returns its status."""
        saved = head.get("Metadata", {})
        meta = UploadMetadata(
            clip_id=row.clip_id,
            device_id=row.device_id,
            fps=saved.get("fps") or None,
            recorded_at=saved.get("recorded-at") or None,
            content_type=content_type,
        )
        return self.finish(row, meta, content_type, None, adopted=True)

    def _count_outcome(self, outcome: str) -> None:
        if self.metrics:
            self.metrics.uploads.labels(outcome).inc()

    def _count(self, accepted: Accepted, outcome: str) -> Accepted:
        self._count_outcome(outcome)
        return accepted
