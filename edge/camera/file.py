"""A camera that plays a real video file: the agent's camera off the Pi.

The camera's clock is the video's time (seconds since playback began, growing
across loops of the file), paced at ``playback_speed`` video seconds per wall
second. Like the Pi's circular buffer it keeps the last ``preroll_seconds`` of
frames, and a clip is encoded to MP4 (H.264) with PyAV, with pts from the
camera's clock, so a clip's first frame is from before its trigger.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from fractions import Fraction
from pathlib import Path
from typing import Optional

import av

from . import Camera, CameraError


class _ClipWriter:
    """One MP4 being written; frames arrive with their camera time."""

    def __init__(self, path: Path, fps: Fraction, width: int, height: int, crf: int):
        self.container = av.open(str(path), mode="w")
        self.stream = self.container.add_stream("libx264", rate=fps)
        self.stream.width, self.stream.height, self.stream.pix_fmt = width, height, "yuv420p"
        self.stream.options = {"preset": "veryfast", "crf": str(crf), "g": str(max(1, round(fps)))}
        self.time_base = Fraction(1, 1000)
        self.stream.codec_context.time_base = self.time_base
        self.first_time: Optional[float] = None
        self.last_time: Optional[float] = None
        self.first_index: Optional[int] = None
        self.frames = 0

    def write(self, frame: av.VideoFrame, t: float, index: int) -> None:
        if self.first_time is None:
            self.first_time, self.first_index = t, index
        frame.pts = round((t - self.first_time) * 1000)
        frame.time_base = self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.last_time = t
        self.frames += 1

    def close(self) -> None:
        try:
            for packet in self.stream.encode(None):
                self.container.mux(packet)
        finally:
            self.container.close()


class FileCamera(Camera):
    """Plays ``video`` (looping) as if it were a live camera; see the module docstring."""

    RAW_SUFFIXES = {".h264", ".264"}

    def __init__(
        self,
        video: Path | str,
        *,
        preroll_seconds: float = 1.0,
        playback_speed: float = 1.0,
        loop: bool = True,
        crf: int = 23,
        fps: Optional[float] = None,
    ):
        """``fps``: the video's frame rate, needed for a raw .h264 stream (it has no timestamps,
        and readers only guess); a container's own rate is used otherwise."""
        self.video = Path(video)
        if not self.video.is_file():
            raise CameraError(f"video file not found: {self.video}")
        try:
            with av.open(str(self.video)) as probe:
                stream = probe.streams.video[0]
                rate = stream.average_rate or stream.guessed_rate or Fraction(10)
                self.source_frames = stream.frames or None
        except (av.error.FFmpegError, IndexError) as err:
            raise CameraError(f"{self.video} is not a playable video: {err}") from None
        if self.video.suffix.lower() in self.RAW_SUFFIXES:
            if fps is None:
                raise CameraError(f"{self.video} is a raw H.264 stream with no frame rate: pass fps")
            rate = Fraction(fps)
        self._rate = Fraction(rate).limit_denominator(1001)
        super().__init__(fps=float(self._rate), preroll_seconds=preroll_seconds)
        self.playback_speed = float(playback_speed)
        self.loop = loop
        self.crf = crf
        self._cond = threading.Condition()
        self._now = 0.0
        self._ring: collections.deque = collections.deque(maxlen=math.ceil(self.preroll_seconds * self.fps) + 1)
        self._writer: Optional[_ClipWriter] = None
        self._hold_at: Optional[float] = None  # a recorder's "no further than this" while a clip is open
        self._finished = False  # the file ended and loop is off
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self.error: Optional[BaseException] = None
        self._clip_error: Optional[BaseException] = None  # why the open clip could not be encoded

    # --- the camera's clock ------------------------------------------------
    def now(self) -> float:
        with self._cond:
            return self._now

    def reached(self, t: float) -> bool:
        with self._cond:
            return self._finished or self._now + 1 / self.fps > t + 1e-6  # the next frame is past t

    def hold_clip_at(self, t: Optional[float]) -> None:
        with self._cond:
            self._hold_at = t
            self._cond.notify_all()

    def wait_until(self, t: float, timeout: Optional[float] = None) -> bool:
        with self._cond:
            return (
                self._cond.wait_for(lambda: self._now >= t or self._stop.is_set() or self._finished, timeout)
                and self._now >= t
            )

    # --- backend ----------------------------------------------------------
    def _open(self) -> None:
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._play, args=(ready,), name=f"file-camera:{self.video.name}", daemon=True
        )
        self._thread.start()
        ready.wait(10)  # first frame decoded: now() means something
        if self.error:
            raise CameraError(f"cannot play {self.video}: {self.error}")

    def _frames(self):
        """(index across loops, frame) forever (or once through when loop is off)."""
        index = 0
        while not self._stop.is_set():
            with av.open(str(self.video)) as container:
                container.streams.video[0].thread_type = "AUTO"
                for frame in container.decode(video=0):
                    yield index, frame
                    index += 1
                    if self._stop.is_set():
                        return
            if not self.loop or index == 0:
                return

    def _play(self, ready: threading.Event) -> None:
        wall_start = time.monotonic()
        try:
            for index, frame in self._frames():
                t = index / self.fps
                # Pace to playback_speed. Behind (a pause, a busy machine): move the schedule
                # rather than rush, so the clock never runs faster than playback_speed.
                delay = wall_start + t / self.playback_speed - time.monotonic()
                if delay > 0 and self._stop.wait(delay):
                    break
                if delay < -0.05:
                    wall_start -= delay
                with self._cond:
                    # A recorder that has not yet decided about this frame: wait for it.
                    while (
                        self._writer is not None
                        and self._hold_at is not None
                        and t > self._hold_at + 1e-6
                        and not self._stop.is_set()
                    ):
                        self._cond.wait(0.05)
                    self._ring.append((index, t, frame))
                    if self._writer is not None and self._clip_error is None:
                        try:
                            self._writer.write(frame, t, index)
                        except Exception as err:  # noqa: BLE001 - that clip fails alone; the camera plays on
                            self._clip_error = err
                    self._now = t
                    self._cond.notify_all()
                ready.set()
        except Exception as err:  # noqa: BLE001 - surfaced through .error and wait_until
            self.error = err
        finally:
            with self._cond:
                self._finished = True
                self._cond.notify_all()
            ready.set()

    def still(self):
        with self._cond:
            if not self._ring:
                raise CameraError(f"{self!r} has no frame yet")
            frame = self._ring[-1][2]
        return frame.to_ndarray(format="bgr24")

    def _start_clip(self, path: Path) -> None:
        with self._cond:
            if not self._ring:
                raise CameraError(f"{self!r}: no frames yet")
            first = self._ring[0][2]
            self._clip_error = None
            writer = _ClipWriter(path, self._rate, first.width, first.height, self.crf)
            try:
                # The buffered pre-roll first, then live frames as they arrive.
                for index, t, frame in self._ring:
                    writer.write(frame, t, index)
            except Exception:
                self._close_quietly(writer)
                raise
            self._writer = writer

    def _finish_clip(self) -> dict:
        with self._cond:
            writer, self._writer, self._hold_at = self._writer, None, None
            error, self._clip_error = self._clip_error, None
            self._cond.notify_all()
        if error is not None:
            self._close_quietly(writer)
            raise CameraError(f"clip {writer.container.name} could not be encoded: {error}") from error
        writer.close()
        source = (
            writer.first_index % self.source_frames
            if self.source_frames and writer.first_index is not None
            else writer.first_index
        )
        return {
            "start_time": writer.first_time,
            "end_time": writer.last_time + 1 / self.fps,
            "frames": writer.frames,
            "first_source_frame": source,
        }

    @staticmethod
    def _close_quietly(writer: _ClipWriter) -> None:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - the clip is already lost; its error is the one reported
            pass

    def _close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(10)

    def _describe(self) -> str:
        return f"{self.video.name} x{self.playback_speed:g} {super()._describe()} t={self._now:.1f}s"
