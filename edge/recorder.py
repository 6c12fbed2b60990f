"""Turns motion into clips: idle -> recording -> cooldown -> idle.

A trigger (the sensor's ``when_motion``) starts a clip that begins
``preroll_seconds`` earlier (the camera's ring buffer). The clip runs at least
``clip_seconds`` after the trigger and is extended while motion continues, up
to ``max_clip_seconds``. After a clip, ``cooldown_seconds`` of quiet avoid a
storm of clips from a flickering sensor; a trigger during the cooldown is kept
and starts the next clip as soon as the cooldown ends, or sooner, while the
camera's pre-roll still reaches back to the trigger. All durations are on the
camera's clock, so a file camera played fast behaves like real time.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Callable, Optional

from edgecloud.clock import utcnow
from edgecloud.loops import BackgroundLoop
from edgecloud.protocol.ids import new_clip_id

from .camera import Camera, Clip

log = logging.getLogger(__name__)

IDLE, RECORDING, COOLDOWN, STOPPED = "idle", "recording", "cooldown", "stopped"


@dataclass
class RecordedClip:
    """A finished clip with its id and wall-clock times."""

    clip_id: str
    clip: Clip
    triggered_at: datetime

    @property
    def recorded_at(self) -> datetime:
        return self.triggered_at - timedelta(seconds=self.clip.preroll_s or 0)


class Recorder(BackgroundLoop):
    """Records a clip per motion event; hands each finished clip to ``on_clip``."""

    tick_s = 0.01  # wall seconds between looks at the sensor while recording
    motion_margin_s = 0.5  # camera seconds a clip may run past the last look at a moving sensor

    def __init__(
        self,
        camera: Camera,
        sensor,
        *,
        device_id: str,
        clip_dir: Path,
        on_clip: Callable[[RecordedClip], None],
        clip_seconds: float = 5.0,
        max_clip_seconds: float = 30.0,
        cooldown_seconds: float = 2.0,
        on_failure: Optional[Callable[[BaseException], None]] = None,
    ):
        self.camera = camera
        self.sensor = sensor
        self.device_id = device_id
        self.clip_dir = Path(clip_dir)
        self.on_clip = on_clip
        self.clip_seconds = clip_seconds
        self.max_clip_seconds = max(max_clip_seconds, clip_seconds)
        self.cooldown_seconds = cooldown_seconds
        self.on_failure = on_failure  # told why a clip failed (e.g. a full disk, so room can be made)
        self._clip_path: Optional[Path] = None  # the file of a clip the camera has not finished yet
        self.clips: list[RecordedClip] = []  # every clip recorded, in order (tests and stats read it)
        self._cond = threading.Condition()
        self._state = IDLE
        self._pending: Optional[tuple[float, datetime]] = None  # (camera time, wall time) of a trigger
        self._motion_since_look = False
        self._last_motion: Optional[tuple[float, datetime]] = None  # (camera time, wall time) of the last edge
        super().__init__()

    thread_name = "recorder"
    join_timeout_s = 30  # a clip in progress is finished and kept

    # --- public -------------------------------------------------------------
    def start(self) -> "Recorder":
        if self._thread is None:
            self.clip_dir.mkdir(parents=True, exist_ok=True)
            self.sensor.when_motion = self._on_motion
        return super().start()

    @property
    def state(self) -> str:
        return self._state

    def wait_for(self, predicate: Callable[["Recorder"], bool], timeout: Optional[float] = None) -> bool:
        """Block until ``predicate(recorder)`` holds (checked whenever the state changes)."""
        with self._cond:
            return self._cond.wait_for(lambda: predicate(self), timeout)

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        return self.wait_for(lambda r: r._state in (IDLE, STOPPED) and r._pending is None, timeout)

    def wait_for_clips(self, n: int, timeout: Optional[float] = None) -> bool:
        return self.wait_for(lambda r: len(r.clips) >= n, timeout)

    def close(self) -> None:
        """Finish a clip in progress (it is kept), stop listening. Safe twice."""
        self.sensor.when_motion = None
        self.stop()
        self._set_state(STOPPED)

    def __exit__(self, *exc):
        self.close()

    def _wake_for_stop(self) -> None:
        with self._cond:
            self._cond.notify_all()

    def __repr__(self) -> str:
        return f"<Recorder {self._state} clips={len(self.clips)} camera={self.camera!r}>"

    # --- internals ------------------------------------------------------------
    def _on_motion(self) -> None:
        # Runs on gpiozero's thread: note when, and let the recorder's thread act.
        with self._cond:
            self._motion_since_look = True
            self._last_motion = (self.camera.now(), utcnow())
            if self._pending is None and self._state != RECORDING:
                self._pending = (self.camera.now(), utcnow())
            self._cond.notify_all()

    def _set_state(self, state: str) -> None:
        with self._cond:
            self._state = state
            self._cond.notify_all()

    def _motion_now(self) -> bool:
        with self._cond:
            seen, self._motion_since_look = self._motion_since_look, False
        return seen or bool(self.sensor.motion_detected)

    def run(self, stop: threading.Event) -> None:
        while not self._stop.is_set():
            with self._cond:
                self._cond.wait_for(lambda: self._pending is not None or self._stop.is_set())
                if self._stop.is_set():
                    return
                trigger, self._pending = self._pending, None
            try:
                self._record(*trigger)
            except Exception as err:  # noqa: BLE001 - a failed clip must not stop the next one
                log.exception("recording failed")
                if self.camera.recording:
                    try:
                        self.camera.stop_clip()
                    except Exception:  # noqa: BLE001 - the broken clip is lost; the recorder lives on
                        log.exception("could not close the failed clip")
                if self._clip_path is not None:  # a broken, partial file: don't let it hold the disk
                    self._clip_path.unlink(missing_ok=True)
                    self._clip_path = None
                if self.on_failure is not None:
                    try:
                        self.on_failure(err)
                    except Exception:  # noqa: BLE001
                        log.exception("after a failed clip")
            self._cooldown()

    def _record(self, trigger_t: float, triggered_at: datetime) -> None:
        clip_id = new_clip_id(self.device_id, triggered_at)
        self._set_state(RECORDING)
        self._clip_path = self.clip_dir / f"{clip_id}.mp4"
        self.camera.start_clip(self._clip_path, trigger_time=trigger_t)
        log.info("motion: recording %s", clip_id)
        cap = trigger_t + self.max_clip_seconds
        end = trigger_t + self.clip_seconds
        lag = self.camera.close_lag_s
        while not self._stop.is_set() and not self.camera.closed:
            now = self.camera.now()
            moving = self._motion_now()
            if moving:
                end = max(end, min(now, cap))
            # A camera that can wait does not run past what we know; while motion lasts it may run on a little.
            self.camera.hold_clip_at(min(cap, end + self.motion_margin_s if moving else end) + lag)
            # While motion lasts only the cap ends the clip; then the camera's lag is waited out.
            if self.camera.reached(end + lag) and (not moving or self.camera.reached(cap + lag)):
                break
            self._stop.wait(self.tick_s)
        clip = self.camera.stop_clip()
        self._clip_path = None  # finished: on_clip owns the file now
        recorded = RecordedClip(clip_id=clip_id, clip=clip, triggered_at=triggered_at)
        log.info("clip %s: %.1f s (%.1f s before the trigger)", clip_id, clip.duration_s or 0, clip.preroll_s or 0)
        try:
            self.on_clip(recorded)
        finally:
            with self._cond:
                self.clips.append(recorded)
                self._cond.notify_all()

    def _cooldown(self) -> None:
        with self._cond:
            # Motion that began after the clip's last look (while it was being saved) is a new event.
            if self._pending is None and self._motion_since_look and not self._stop.is_set():
                self._pending = self._last_motion
            self._motion_since_look = False
            self._state = COOLDOWN
            self._cond.notify_all()
        until = self.camera.now() + self.cooldown_seconds
        while not self._stop.is_set() and self.camera.now() < until and not self.camera.closed:
            with self._cond:
                if self._pending is not None:
                    # The camera keeps only its pre-roll: waiting longer would cut the event's start.
                    until = min(until, self._pending[0] + self.camera.preroll_seconds / 2)
            self.camera.wait_until(until, timeout=0.05)
        with self._cond:
            # Motion that carried on through the cooldown is a new event.
            if self._pending is None and self.sensor.motion_detected and not self._stop.is_set():
                self._pending = (self.camera.now(), utcnow())
            self._state = IDLE
            self._cond.notify_all()
