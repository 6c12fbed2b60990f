"""Video limits: what one clip may be (``limits.*``), told from its container's headers before
anything decodes it, and held to while it decodes.

A hostile clip is small on the wire and huge once decoded (50 black 8190x8190 frames are 10 MB),
so the controller refuses it at intake and every place that decodes (worker, Pi, function) checks
again first: :func:`refusal` reads width, height, frame count and duration with PyAV without
decoding a picture (FFmpeg's probe would decode the first frames: its decoder is told to skip
them all, and to allocate none over ``max_pixels``). Headers can lie, so :class:`Guard` checks each decoded
frame too (its count; its size, though OpenCV scales a stream that grows mid-way to the size it
opened it at, so only the decoder's own buffers grow), and the clip's wall-clock budget between
frames, which bounds what a lying clip can cost.

The function's zip has no PyAV (its FFmpeg would take the zip past Lambda's 250 MB): there the
headers are the ones OpenCV reports once it has opened the clip, before any frame is read
(FFmpeg's probe inside OpenCV decodes the first frame or two, at the size the headers give).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable, Optional, Union

try:
    import av
except ImportError:  # the function's zip (see above)
    av = None

from .limits_settings import LimitsSettings

Source = Union[str, Path, BinaryIO]
# FFmpeg's demuxer for each clip type we take; None lets FFmpeg probe (a file named by its suffix).
FORMATS = {"video/mp4": "mp4", "video/h264": "h264", "video/x-msvideo": "avi"}


class OverLimit(ValueError):
    """A clip breaks a video limit, or its headers cannot be read to tell: refused; the message says why."""


@dataclass(frozen=True)
class Headers:
    """What a clip's container says of its video stream."""

    width: int
    height: int
    frames: int  # from the headers, else estimated from duration x rate, else counted packet by packet
    duration_s: float
    fps: float
    counted: bool = False  # frames were counted, stopping one past the limit: "at least"


def read_headers(
    source: Source,
    *,
    max_pixels: int,
    count_up_to: int,
    fps: Optional[float] = None,
    content_type: Optional[str] = None,
) -> Headers:
    """The video stream's size, frame count and duration, decoding no picture over ``max_pixels``.

    ``fps`` (the edge's, for a raw H.264 stream, which has no timestamps) wins over what the
    stream says. A stream with neither a frame count nor a duration has its packets counted
    (demuxing, not decoding), stopping past ``count_up_to``. OverLimit if unreadable."""
    if isinstance(source, (str, Path)):
        source = str(source)
    else:
        source.seek(0)
    try:
        # FFmpeg's probe would decode the first frames: it skips them all, and could allocate none
        # over max_pixels on one thread anyway. ("r": an upload's temp file is open "w+b".)
        with av.open(
            source,
            "r",
            format=FORMATS.get(content_type or ""),
            stream_options=[{"skip_frame": "all", "max_pixels": str(max_pixels), "threads": "1"}],
        ) as container:
            if not container.streams.video:
                raise OverLimit("the clip has no video stream")
            return _headers(container, container.streams.video[0], fps, count_up_to)
    except av.FFmpegError as err:
        raise OverLimit(
            f"the clip's headers are unreadable ({err.strerror or type(err).__name__}): not a video FFmpeg can read"
        ) from None
    finally:
        if not isinstance(source, str):
            source.seek(0)


def _headers(container, stream, fps: Optional[float], count_up_to: int) -> Headers:
    width, height = stream.codec_context.width, stream.codec_context.height
    if not width or not height:
        raise OverLimit("the clip's headers give no frame size")
    rate = fps or float(stream.average_rate or stream.guessed_rate or 0)
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    else:
        duration = 0.0
    frames = stream.frames or (round(duration * rate) if duration and rate else 0)
    counted = not frames
    if counted:  # a raw stream: no index, no timestamps
        frames = sum(1 for _, packet in zip(range(count_up_to + 1), container.demux(stream)) if packet.size)
    if not duration and rate:
        duration = frames / rate
    return Headers(width, height, frames, duration, rate, counted)


def broken(headers: Headers, limits: LimitsSettings) -> Optional[str]:
    """The first limit the clip breaks, in words; None if it keeps them all."""
    w, h = headers.width, headers.height
    if w * h > limits.max_pixels:
        return f"{w}x{h} frames are over limits.max_pixels {_pixels(limits.max_pixels)}"
    if headers.frames > limits.max_frames:
        more = "at least " if headers.counted else ""
        return f"{more}{headers.frames} frames are over limits.max_frames {limits.max_frames}"
    if headers.duration_s > limits.max_duration_s:
        return f"{headers.duration_s:.1f} s of video is over limits.max_duration_s {limits.max_duration_s:g}"
    return None


def refusal(
    source: Source, limits: LimitsSettings, *, fps: Optional[float] = None, content_type: Optional[str] = None
) -> Optional[str]:
    """Why this clip is refused (over a limit, or unreadable headers); None when it may be decoded."""
    try:
        headers = read_headers(
            source, max_pixels=limits.max_pixels, count_up_to=limits.max_frames, fps=fps, content_type=content_type
        )
    except OverLimit as err:
        return str(err)
    return broken(headers, limits)


def _pixels(count: int) -> str:
    return "3840x2160" if count == 3840 * 2160 else f"{count} pixels"


class Guard:
    """What decoding checks as it goes: headers can lie, and one clip's analysis has a wall-clock budget.

    The budget starts when the guard is made; ``frame`` is called for each decoded frame (with its
    picture when it was retrieved), ``in_time`` between a detector's batches."""

    def __init__(self, limits: LimitsSettings, clock: Callable[[], float] = time.monotonic):
        self.limits = limits
        self.clock = clock
        self.deadline = clock() + limits.clip_budget_s

    def check_headers(self, source: Source, fps: Optional[float] = None, content_type: Optional[str] = None) -> bool:
        """Before decoding: OverLimit if the clip's headers break a limit, or cannot be read.
        False when PyAV is not here to read them: the caller checks what its decoder reports."""
        if av is None:
            return False
        why = refusal(source, self.limits, fps=fps, content_type=content_type)
        if why:
            raise OverLimit(why)
        return True

    def check(self, headers: Headers) -> None:
        """OverLimit if these headers (a decoder's report of them) break a limit."""
        why = broken(headers, self.limits)
        if why:
            raise OverLimit(why)

    def frame(self, index: int, shape: Optional[tuple] = None) -> None:
        if index >= self.limits.max_frames:
            raise OverLimit(f"more than {self.limits.max_frames} frames decoded: over limits.max_frames")
        if shape is not None and shape[0] * shape[1] > self.limits.max_pixels:
            raise OverLimit(
                f"frame {index} is {shape[1]}x{shape[0]}: over limits.max_pixels {_pixels(self.limits.max_pixels)}"
            )
        self.in_time(f"frame {index}")

    def in_time(self, where: str) -> None:
        if self.clock() > self.deadline:
            raise OverLimit(f"analysis ran past limits.clip_budget_s ({self.limits.clip_budget_s:g} s) at {where}")
