"""What happens to each clip once it is recorded: the agent's placement decisions.

Every clip goes to the spool first (durable), then the policy places it: on the
Pi (the result is added to the spool entry atomically, then clip and result are
uploaded) or in the cloud (the clip is uploaded alone and its result long-polled).
A Pi that is unsure escalates to the cloud too; a clip whose video the spool had to
drop goes up as a record alone. Separate from the agent (edge/agent.py), which
builds these parts and runs their lifecycle: this module is the decisions the parts
call back into, each recorded in the Pi's stats with its reason.
"""

from __future__ import annotations

import logging
from datetime import datetime

from edgecloud.clock import utcnow
from edgecloud.config import Settings
from edgecloud.protocol.states import Placement

from .local import LocalProcessor
from .recorder import RecordedClip
from .result_watcher import ResultWatcher
from .scheduler import CLOUD, EDGE, History, Policy, Situation
from .spool import DISK_FULL, Entry, Spool, SpoolFull
from .stats import StatsStore
from .uploader import Uploader

log = logging.getLogger(__name__)


class ClipFlow:
    """The callbacks of the recorder, the Pi's detector and the uploader, mixed into ``EdgeAgent``,
    which sets the parts they use."""

    settings: Settings
    spool: Spool
    stats: StatsStore
    history: History
    policy: Policy
    local: LocalProcessor
    uploader: Uploader
    watcher: ResultWatcher

    def _on_clip(self, recorded: RecordedClip) -> None:
        clip = recorded.clip
        metadata = {
            "clip_id": recorded.clip_id,
            "device_id": self.settings.edge.device_id,
            "recorded_at": recorded.recorded_at.isoformat(),
            "fps": clip.fps,
            "content_type": clip.content_type,
        }
        try:
            entry = self.spool.put(
                clip.path,
                metadata,
                stage="new",
                triggered_at=recorded.triggered_at.isoformat(),
                duration_s=clip.duration_s,
                preroll_s=clip.preroll_s,
            )
        except SpoolFull:
            clip.path.unlink(missing_ok=True)  # logged as lost: its space must not stay taken
            raise
        self.stats.record(
            recorded.clip_id, triggered_at=recorded.triggered_at, recorded_s=clip.duration_s, bytes=entry.size
        )
        self._place(entry)

    def _clip_failed(self, err: BaseException) -> None:
        # A full disk shows first where the camera writes: make room so the next clip can be kept.
        while err is not None:
            if isinstance(err, OSError) and err.errno in DISK_FULL:
                self.spool.make_room("disk full while recording")
                return
            err = err.__cause__ or err.__context__

    def _video_dropped(self, entry: Entry, freed: int) -> None:
        self.stats.record(entry.clip_id, video_dropped_at=entry.manifest.get("dropped_at"), bytes_dropped=freed)

    def _place(self, entry: Entry) -> None:
        if entry.video_dropped:  # nothing left to analyse: the record goes up as it is
            self.spool.update(entry, stage="ready")
            self.uploader.wake()
            return
        situation = Situation.now(
            self.history,
            entry.size,
            self.local.waiting,
            self.uploader.waiting_bytes(),
            busy_with=self.local.busy_with(),
        )
        placement = self.policy.place(situation)
        reason = self.policy.reason(situation, placement)
        log.info("%s -> %s: %s", entry.clip_id, placement, reason)
        self.stats.record(entry.clip_id, placement=placement, placement_reason=reason)
        if placement == EDGE:
            self.spool.update(entry, placement=EDGE)
            self.local.submit(
                entry,
                path=entry.clip_path,
                clip_id=entry.clip_id,
                fps=entry.metadata["fps"],
                recorded_at=datetime.fromisoformat(entry.metadata["recorded_at"]),
            )
        else:
            self.spool.update(entry, stage="ready", placement=CLOUD)
            self.uploader.wake()

    def _local_done(self, entry: Entry, result, seconds: float) -> None:
        entry = self.spool.refresh(entry)
        if entry is None:
            return
        if entry.video_dropped and (isinstance(result, Exception) or result.status != "done"):
            self.spool.update(entry, stage="ready")  # dropped before the Pi could read it: the record goes alone
            self.uploader.wake()
            return
        if isinstance(result, Exception):
            self.spool.update(entry, stage="ready", placement=CLOUD)
            self.stats.record(entry.clip_id, placement=CLOUD, placement_reason=f"the Pi's analysis failed: {result}")
            self.uploader.wake()
            return
        self.history.observe_local(seconds)
        data = result.model_dump(mode="json")
        if self.policy.escalate(result):
            log.info("%s: the Pi is unsure (%s); asking the cloud too", entry.clip_id, result.labels or result.error)
            self.spool.update(entry, stage="ready", placement=Placement.BOTH, result=data, send_result=False)
            self.stats.record(
                entry.clip_id,
                placement=Placement.BOTH,
                local_s=round(seconds, 4),
                labels_edge=result.labels,
                placement_reason=f"the Pi was unsure ({result.labels or result.error}): the cloud analyses it too",
            )
        else:
            self.spool.update(entry, stage="ready", result=data)
            self.stats.record(
                entry.clip_id,
                local_s=round(seconds, 4),
                result_at=utcnow(),
                status=result.status,
                labels=result.labels,
                best_score=result.best_score,
            )
        self.uploader.wake()

    def _prepare(self, entry: Entry) -> Entry:
        edge = self.settings.edge
        if not edge.downscale_width or entry.carries_result or entry.video_dropped or entry.manifest.get("downscaled"):
            return entry
        from .downscale import downscale

        smaller = entry.path / "downscaled.tmp.mp4"
        try:
            before, after = downscale(entry.clip_path, smaller, edge.downscale_width, edge.downscale_crf)
        except Exception:  # noqa: BLE001 - an undecodable clip still goes up as recorded
            log.exception("%s: could not downscale; sending it as recorded", entry.clip_id)
            smaller.unlink(missing_ok=True)
            return self.spool.update(entry, downscaled=True)
        if after >= before:
            smaller.unlink(missing_ok=True)
            return self.spool.update(entry, downscaled=True)
        self.stats.record(entry.clip_id, bytes_saved=before - after)
        log.info(
            "%s: downscaled to %d px wide, %d -> %d bytes (%.0f%% saved)",
            entry.clip_id,
            edge.downscale_width,
            before,
            after,
            100 * (before - after) / before,
        )
        metadata = {**entry.metadata, "content_type": "video/mp4"}
        return self.spool.replace_clip(entry, smaller, downscaled=True, metadata=metadata)

    def _uploaded(self, entry: Entry, body: dict) -> None:
        if entry.video_dropped and not entry.carries_result:
            self.stats.record(entry.clip_id, status=body.get("status"))  # final at once: no result will come
        elif not entry.carries_result:
            self.history.note_offload()
            self.watcher.watch(entry.clip_id)
