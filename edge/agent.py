"""The Pi agent: PIR -> recorder -> spool -> (Pi's detector | cloud) -> uploader.

This module builds the parts and runs their lifecycle: start, wait, close, and a
restart that picks up where it left off (clips not yet placed are placed, uploads
are retried, results still awaited are watched). What happens to each clip, where
it is analysed and why, is edge/clip_flow.py.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Callable, Optional

from edgecloud.config import Settings
from edgecloud.loops import StartClose
from edgecloud.protocol.states import Placement

from .camera import Camera, create_camera
from .clip_flow import ClipFlow
from .local import LocalProcessor
from .recorder import Recorder
from .result_watcher import ResultWatcher
from .scheduler import CLOUD, History, Policy, create_policy
from .sensor import create_motion_sensor, wait_until_sampling
from .session import session_factory
from .spool import Spool
from .stats import StatsStore
from .uploader import Uploader

log = logging.getLogger(__name__)


def stats_path(edge_settings) -> Path:
    return Path(edge_settings.stats_path or Path(edge_settings.spool_dir).parent / "edge-stats.sqlite")


class EdgeAgent(ClipFlow, StartClose):
    """The whole agent; a context manager. ``camera`` and ``pin_factory`` select hardware
    (None: picked from settings, gpiozero's default pins); ``analyse`` and ``policy``
    replace local detection and placement (simulations, tests). Its parts call back into
    ``ClipFlow``'s decisions."""

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
