"""The Pi agent: PIR -> recorder -> spool -> (Pi's detector | cloud) -> uploader.

Every clip goes to the spool first (durable), then the policy places it:
on the Pi (the result is added to the spool entry atomically, then clip and
result are uploaded) or in the cloud (the clip is uploaded alone and its
result long-polled). A restart picks up where it left off: clips not yet
placed are placed, uploads are retried, results still awaited are watched.
"""

from __future__ import annotations

import logging
import time
from datetime import datetime
from pathlib import Path
from typing import Callable, Optional

from edgecloud.clock import utcnow
from edgecloud.config import Settings
from edgecloud.loops import StartClose
from edgecloud.protocol.states import Placement

from .camera import Camera, create_camera
from .local import LocalProcessor
from .recorder import RecordedClip, Recorder
from .result_watcher import ResultWatcher
from .scheduler import CLOUD, EDGE, History, Policy, Situation, create_policy
from .sensor import create_motion_sensor, wait_until_sampling
from .session import session_factory
from .spool import DISK_FULL, Entry, Spool, SpoolFull
from .stats import StatsStore
from .uploader import Uploader

log = logging.getLogger(__name__)


def stats_path(edge_settings) -> Path:
    return Path(edge_settings.stats_path or Path(edge_settings.spool_dir).parent / "edge-stats.sqlite")


class EdgeAgent(StartClose):
    """The whole agent; a context manager. ``camera`` and ``pin_factory`` select hardware
    (None: picked from settings, gpiozero's default pins); ``analyse`` and ``policy``
    replace local detection and placement (simulations, tests)."""

    def __init__(
        self,
        settings: Settings,
        *,
        pin_factory=None,
        camera: Optional[Camera] = None,
        analyse: Optional[Callable] = None,
        policy: Optional[Policy] = None,
    ):
        self.settings = settings
        edge = settings.edge
        self.stats = StatsStore(stats_path(edge))
        self.spool = Spool(edge.spool_dir, int(edge.spool_max_mb * 1_000_000), on_video_dropped=self._video_dropped)
        self.history = History.from_records(self.stats.records()[-50:])
        self.policy = policy or create_policy(edge.policy, edge.escalate_below)
        self.pin_factory = pin_factory
        self.camera = camera
        self.sensor = None
        self.recorder: Optional[Recorder] = None
        self.frames = None  # edge.mode frames: the FrameStream
        self.local = LocalProcessor(settings, self._local_done, analyse=analyse)
        sessions = session_factory(edge)  # this device's token and trusted CA, on every request
        self.watcher = ResultWatcher(
            edge.controller_url,
            stats=self.stats,
            history=self.history,
            wait_s=edge.result_wait_s,
            deadline_s=edge.result_deadline_s,
            session_factory=sessions,
        )
        self.uploader = Uploader(
            self.spool,
            edge.controller_url,
            timeout_s=edge.upload_timeout_s,
            retry_max_s=edge.retry_max_s,
            retry_base_s=min(0.5, edge.retry_max_s),
            stats=self.stats,
            history=self.history,
            prepare=self._prepare,
            on_uploaded=self._uploaded,
            session_factory=sessions,
        )
        self._started = self._closed = False

    # --- lifecycle ------------------------------------------------------------
    def start(self) -> "EdgeAgent":
        if self._started:
            return self
        self._started = True
        edge = self.settings.edge
        self.camera = (self.camera or create_camera(edge)).start()
        self.sensor = create_motion_sensor(edge, pin_factory=self.pin_factory)
        wait_until_sampling(self.sensor)
        self.watcher.start()
        self.local.start()
        self.uploader.start()
        self._resume()
        if edge.mode == "frames":  # frames straight to S3 while motion lasts; no clips recorded
            from .frames import FrameStream

            self.frames = FrameStream(self.settings, self.camera, self.sensor).start()
            log.info(
                "edge agent %s up in frames mode: a frame every %.2f s while motion lasts",
                edge.device_id,
                edge.frame_interval_s,
            )
            return self
        self.recorder = Recorder(
            self.camera,
            self.sensor,
            device_id=edge.device_id,
            clip_dir=self.spool.recording_dir,
            on_clip=self._on_clip,
            clip_seconds=edge.clip_seconds,
            max_clip_seconds=edge.max_clip_seconds,
            cooldown_seconds=edge.cooldown_seconds,
            on_failure=self._clip_failed,
        ).start()
        log.info(
            "edge agent %s up: %r, PIR on pin %d, policy %s, controller %s",
            edge.device_id,
            self.camera,
            edge.pir_pin,
            self.policy.name,
            edge.controller_url,
        )
        return self

    def _resume(self) -> None:
        for entry in self.spool.entries(stage="new"):
            log.info("resuming %s: not placed before the restart", entry.clip_id)
            self._place(entry)
        pending = self.spool.entries(stage="ready")
        if pending:
            log.info("%d clip(s) left in the spool from before: uploading", len(pending))
        for record in self.stats.records():
            if record.placement in (CLOUD, Placement.BOTH) and record.uploaded_at and not record.result_at:
                self.watcher.watch(record.clip_id, record.uploaded_at)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        """True once nothing is recording, being processed on the Pi, or waiting in the spool."""
        deadline = None if timeout is None else time.monotonic() + timeout

        def left():
            return None if deadline is None else max(0.0, deadline - time.monotonic())

        while True:
            ok = (
                (self.recorder is None or self.recorder.wait_idle(left()))
                and self.local.wait_idle(left())
                and self.uploader.wait_drained(left())
            )
            if not ok:
                return False
            # Settled only if nothing moved on while we waited for the later stages.
            if (
                (self.recorder is None or self.recorder.state in ("idle", "stopped"))
                and self.local.waiting == 0
                and not self.spool.entries()
            ):
                return True
            if deadline is not None and time.monotonic() >= deadline:
                return False

    @property
    def clips_recorded(self) -> int:
        return 0 if self.recorder is None else len(self.recorder.clips)

    def wait_for_clip(self, after: int = 0, timeout: Optional[float] = None) -> Optional[str]:
        """The id of the first clip recorded after the first ``after`` ones, once it is finished
        (spooled); None on timeout."""
        if self.recorder is None or not self.recorder.wait_for_clips(after + 1, timeout):
            return None
        return self.recorder.clips[after].clip_id

    def wait_results(self, timeout: Optional[float] = None) -> bool:
        """True once every clip sent to the cloud has its result seen."""
        return self.watcher.wait_all(timeout)

    def close(self) -> None:
        """Stop; a clip being recorded is finished and spooled; nothing spooled is lost. Safe twice."""
        if self._closed:
            return
        self._closed = True
        if self.recorder is not None:
            self.recorder.close()
        if self.frames is not None:
            self.frames.close()
        if self.sensor is not None:
            self.sensor.close()
        if self.camera is not None:
            self.camera.close()
        self.local.close()
        self.uploader.close()
        self.watcher.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._started else "new"
        return (
            f"<EdgeAgent {self.settings.edge.device_id} {state} policy={self.policy.name} "
            f"spool={len(self.spool)} {self.history!r}>"
        )

    # --- the flow -------------------------------------------------------------
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
