"""Cameras that always keep the last few seconds, so a clip can start before its trigger.

The backend is chosen the gpiozero way: by argument, then the ``edge.camera``
setting (``auto | picamera2 | file``), then a fallback that warns. Nothing here
imports picamera2 unless that backend is asked for.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

log = logging.getLogger(__name__)


class CameraError(RuntimeError):
    """The camera cannot be opened, or is used in the wrong state."""


@dataclass
class Clip:
    """A finished clip and what the camera knows about it (times on the camera's clock)."""

    path: Path
    content_type: str
    fps: float
    trigger_time: float
    start_time: Optional[float] = None
    end_time: Optional[float] = None
    frames: Optional[int] = None
    first_source_frame: Optional[int] = None  # file camera: index in the video of the clip's first frame

    @property
    def duration_s(self) -> Optional[float]:
        if self.start_time is None or self.end_time is None:
            return None
        return self.end_time - self.start_time

    @property
    def preroll_s(self) -> Optional[float]:
        return None if self.start_time is None else self.trigger_time - self.start_time


class Camera:
    """Base of every camera backend: a ring buffer of recent video, and clips cut from it.

    A backend must override:

    * ``_open()`` - start capturing into a ring buffer holding at least ``preroll_seconds``.
    * ``_start_clip(path)`` - begin a clip file at ``path`` that starts with the buffered video.
    * ``_finish_clip() -> dict`` - end the clip; return known ``Clip`` fields
      (``start_time``, ``end_time``, ``frames``, ...).
    * ``_close()`` - stop capturing and release the device.

    It may override ``now()`` (the camera's clock, default ``time.monotonic``),
    ``wait_until(t, timeout)``, ``reached(t)``, ``hold_clip_at(t)`` (a camera that
    can pause), ``content_type`` and ``close_lag_s`` (seconds of video still in
    flight when a clip is ended, which the recorder waits out).
    """

    content_type = "video/mp4"
    close_lag_s = 0.0

    def __init__(self, *, fps: float, preroll_seconds: float):
        self.fps = float(fps)
        self.preroll_seconds = float(preroll_seconds)
        self._state_lock = threading.Lock()
        self._started = False
        self._closed = False
        self._clip: Optional[tuple[Path, float]] = None

    # --- what users call -------------------------------------------------
    def start(self) -> "Camera":
        with self._state_lock:
            if self._closed:
                raise CameraError(f"{self!r} is closed")
            if not self._started:
                self._open()
                self._started = True
        return self

    def start_clip(self, path: Path, trigger_time: Optional[float] = None) -> None:
        """Start writing a clip that begins ``preroll_seconds`` before now (or before ``trigger_time``)."""
        if not self._started or self._closed:
            raise CameraError(f"{self!r} is not running")
        if self._clip is not None:
            raise CameraError(f"{self!r} is already recording {self._clip[0]}")
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        self._clip = (path, self.now() if trigger_time is None else trigger_time)
        try:
            self._start_clip(path)
        except BaseException:
            self._clip = None  # no clip is open: the next start_clip must not be refused
            raise

    def stop_clip(self) -> Clip:
        if self._clip is None:
            raise CameraError(f"{self!r} is not recording a clip")
        path, trigger_time = self._clip
        try:
            known = self._finish_clip()
        finally:
            self._clip = None
        return Clip(path=path, content_type=self.content_type, fps=self.fps, trigger_time=trigger_time, **known)

    @property
    def recording(self) -> bool:
        return self._clip is not None

    def now(self) -> float:
        return time.monotonic()

    def still(self):
        """The newest frame as a BGR array (edge.mode frames)."""
        raise CameraError(f"{type(self).__name__} cannot take stills")

    def reached(self, t: float) -> bool:
        """Whether the clip has all its video up to camera time ``t``."""
        return self.now() >= t

    def hold_clip_at(self, t: Optional[float]) -> None:
        """Don't run past camera time ``t`` while a clip is open. A file camera waits for a
        recorder that fell behind; a live camera cannot wait, and ignores this."""

    def wait_until(self, t: float, timeout: Optional[float] = None) -> bool:
        """Block until the camera's clock reaches ``t``; False on timeout."""
        delay = t - self.now()
        if timeout is not None and delay > timeout:
            time.sleep(max(timeout, 0))
            return False
        time.sleep(max(delay, 0))
        return True

    def close(self) -> None:
        """Finish an open clip, stop the camera. Safe to call twice."""
        with self._state_lock:
            if self._closed:
                return
            self._closed = True
            if self._clip is not None:
                try:
                    self.stop_clip()
                except Exception:  # noqa: BLE001 - closing must not raise over a half-written clip
                    log.exception("%r: could not finish the open clip", self)
            if self._started:
                self._close()

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()

    def _describe(self) -> str:
        return f"fps={self.fps:g} preroll={self.preroll_seconds:g}s"

    def __repr__(self) -> str:
        state = "closed" if self._closed else "recording" if self.recording else "running" if self._started else "new"
        return f"<{type(self).__name__} {self._describe()} {state}>"

    # --- what backends provide -------------------------------------------
    def _open(self) -> None:
        raise NotImplementedError

    def _start_clip(self, path: Path) -> None:
        raise NotImplementedError

    def _finish_clip(self) -> dict:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError


def picamera2_available() -> bool:
    import importlib.util
    import sys

    if sys.modules.get("picamera2") is not None:
        return True
    try:
        return importlib.util.find_spec("picamera2") is not None
    except (ImportError, ValueError):
        return False


def create_camera(settings, backend: Optional[str] = None) -> Camera:
    """The camera for these ``EdgeSettings``: ``backend`` argument, else ``settings.camera``, else auto.

    ``auto`` picks picamera2 when it is installed (a Pi), else plays
    ``settings.video`` with a warning, so a laptop runs the same agent.
    """
    choice = backend or settings.camera
    if choice == "auto":
        if picamera2_available():
            choice = "picamera2"
        elif settings.video:
            log.warning("picamera2 is not installed: the camera plays %s instead", settings.video)
            choice = "file"
        else:
            raise CameraError(
                "no camera: picamera2 is not installed (apt install python3-picamera2) "
                "and edge.video names no file to play"
            )
    if choice == "picamera2":
        from .picam import Picamera2Camera

        return Picamera2Camera(
            resolution=settings.resolution,
            fps=settings.fps,
            bitrate=settings.bitrate,
            preroll_seconds=settings.preroll_seconds,
        )
    if choice == "file":
        from .file import FileCamera

        if not settings.video:
            raise CameraError("edge.camera is 'file' but edge.video names no file")
        return FileCamera(
            settings.video,
            preroll_seconds=settings.preroll_seconds,
            playback_speed=settings.playback_speed,
            fps=settings.fps,
        )
    raise CameraError(f"unknown camera backend {choice!r} (auto | picamera2 | file)")
