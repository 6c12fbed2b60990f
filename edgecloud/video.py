"""Decoding clips, sampling frames from them, and the motion gate.

OpenCV's FFmpeg reader handles mp4, avi and raw ``.h264``. A raw H.264
stream has no timestamps, and the rate FFmpeg guesses for it (often 25) is
not the camera's, so the caller passes the recording's ``fps`` when it knows
it; it wins over what the container says.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

import cv2
import numpy as np

from .limits import Guard, Headers, OverLimit

MAX_FPS = 240.0
RAW_STREAMS = {".h264", ".264", ".h265", ".hevc"}
log = logging.getLogger(__name__)


class DecodeError(ValueError):
    """The file is not a video we can read, or has no frames."""


@dataclass
class DecodeStats:
    frames_total: int = 0
    seconds: float = 0.0  # time spent decoding (grab + retrieve)


@dataclass
class Frame:
    index: int
    t: float
    image: np.ndarray


@dataclass
class Clip:
    """An opened clip: its frame rate, and an iterator over sampled frames that counts as it goes."""

    path: Path
    fps: float
    capture: cv2.VideoCapture
    stats: DecodeStats = field(default_factory=DecodeStats)
    guard: Optional[Guard] = None  # checks each frame (OverLimit): headers can lie; the clip's budget

    def frames(self, sample_fps: Optional[float] = None) -> Iterator[Frame]:
        """Every frame, or ``sample_fps`` of them per second (the first always); all are decoded.
        With a guard, a frame over a limit, or past the clip's budget, raises OverLimit."""
        step = 1.0 / sample_fps if sample_fps and sample_fps < self.fps else 0.0
        next_t = 0.0
        index = 0
        while True:
            start = time.perf_counter()
            if not self.capture.grab():
                self.stats.seconds += time.perf_counter() - start
                break
            t = index / self.fps
            image = None
            # Half a frame's slack so 10 fps sampled at 2 fps keeps every 5th frame exactly.
            if t + 0.5 / self.fps >= next_t:
                ok, image = self.capture.retrieve()
                image = image if ok else None
            self.stats.seconds += time.perf_counter() - start
            if self.guard is not None:
                self.guard.frame(index, None if image is None else image.shape)
            self.stats.frames_total += 1
            if image is not None:
                next_t = (math.floor(t * sample_fps + 0.5) + 1) * step if step else 0.0
                yield Frame(index, t, image)
            index += 1

    def close(self) -> None:
        self.capture.release()

    def __enter__(self) -> "Clip":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class _Raised:
    def __init__(self, error: BaseException):
        self.error = error


def prefetched(frames: Iterator[Frame], depth: int = 16) -> Iterator[Frame]:
    """Run a frame iterator in a background thread, so decoding overlaps detection.

    OpenCV releases the GIL while it decodes and detects, so the two share
    the cores. Errors are re-raised in the caller; closing the generator
    stops the thread before the caller releases the capture.
    """
    handoff: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def run() -> None:
        try:
            for frame in frames:
                if not put(frame):
                    return
            put(end)
        except BaseException as err:  # handed to the caller, who decides
            put(_Raised(err))

    worker = threading.Thread(target=run, name="decode", daemon=True)
    worker.start()
    try:
        while True:
            item = handoff.get()
            if item is end:
                return
            if isinstance(item, _Raised):
                raise item.error
            yield item
    finally:
        stop.set()
        worker.join()


def open_clip(path: str | Path, fps: Optional[float] = None, guard: Optional[Guard] = None) -> Clip:
    """Open a clip for decoding; DecodeError if it is missing, empty or not a video. With a guard,
    its headers are checked against the limits first (OverLimit), and each frame as it decodes."""
    path = Path(path)
    if not path.is_file():
        raise DecodeError(f"clip file not found: {path.name}")
    if path.stat().st_size == 0:
        raise DecodeError("clip is empty (0 bytes)")
    probed = guard is not None and guard.check_headers(path, fps)
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        capture.release()
        raise DecodeError("not a video OpenCV/FFmpeg can open (corrupt or unknown format)")
    if not fps or not 0 < fps <= MAX_FPS:
        fps = capture.get(cv2.CAP_PROP_FPS)
        if path.suffix.lower() in RAW_STREAMS:
            log.warning(
                "%s is a raw stream without timestamps and no fps was given; FFmpeg guesses %.3g", path.name, fps
            )
    if not fps or not math.isfinite(fps) or not 0 < fps <= MAX_FPS:
        capture.release()
        raise DecodeError("clip has no usable frame rate; pass the recording's fps")
    if guard is not None and not probed:  # no PyAV here: the headers as OpenCV read them, before any frame
        size = [int(capture.get(prop)) for prop in (cv2.CAP_PROP_FRAME_WIDTH, cv2.CAP_PROP_FRAME_HEIGHT)]
        frames = max(0, int(capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        try:
            guard.check(Headers(*size, frames=frames, duration_s=frames / fps, fps=fps))
        except OverLimit:
            capture.release()
            raise
    return Clip(path, float(fps), capture, guard=guard)


def fit_within(image: np.ndarray, max_side: Optional[int]) -> tuple[np.ndarray, float]:
    """Downscale (never up) so the longer side is at most ``max_side``; returns (image, scale applied)."""
    h, w = image.shape[:2]
    if not max_side or max(h, w) <= max_side:
        return image, 1.0
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA), scale


@dataclass
class Look:
    """What the motion gate made of one frame."""

    keep: bool  # worth analysing
    full: bool  # analyse all of it (first frame, or a still scene's heartbeat), not just moving regions
    mask: np.ndarray  # small foreground mask; nonzero where something moved


class MotionGate:
    """Decides which sampled frames are worth a detector: those with motion, plus a heartbeat.

    Background subtraction (MOG2) runs on a small blurred grey copy. The first
    frame is always analysed, and a still scene still gets one frame every
    ``heartbeat_s`` seconds, so something standing still is not missed; those
    frames are marked ``full``, as is one frame every ``full_every_s`` seconds.
    """

    def __init__(self, min_area: float = 0.002, width: int = 160, heartbeat_s: float = 1.0, full_every_s: float = 5.0):
        self.min_area = min_area
        self.width = width
        self.heartbeat_s = heartbeat_s
        self.full_every_s = full_every_s
        self.subtractor = cv2.createBackgroundSubtractorMOG2(history=50, varThreshold=25, detectShadows=False)
        self.kernel = np.ones((3, 3), np.uint8)
        self.last_kept: Optional[float] = None
        self.last_full: Optional[float] = None

    def foreground(self, image: np.ndarray) -> np.ndarray:
        small, _ = fit_within(image, self.width)
        grey = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY) if small.ndim == 3 else small
        mask = self.subtractor.apply(cv2.GaussianBlur(grey, (5, 5), 0))
        # Opening drops speckle noise; dilation joins the parts of one moving person.
        return cv2.dilate(cv2.morphologyEx(mask, cv2.MORPH_OPEN, self.kernel), self.kernel, iterations=2)

    def look(self, image: np.ndarray, t: float) -> Look:
        mask = self.foreground(image)
        moving = np.count_nonzero(mask) >= self.min_area * mask.size
        first = self.last_kept is None
        heartbeat = not first and t - self.last_kept >= self.heartbeat_s - 1e-6
        keep = first or moving or heartbeat
        full = keep and (first or not moving or t - self.last_full >= self.full_every_s - 1e-6)
        if keep:
            self.last_kept = t
        if full:
            self.last_full = t
        return Look(keep, full, mask)

    def wants(self, image: np.ndarray, t: float) -> bool:
        return self.look(image, t).keep
