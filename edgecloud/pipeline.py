"""A clip in, a :class:`~edgecloud.protocol.messages.Result` out: decode once, sample, gate on motion, detect in
batches, follow objects across the analysed frames (``edgecloud.tracking``).

Used by the worker and by the edge agent alike. A clip that cannot be
decoded (missing, empty, corrupt, not a video, no frames), or that breaks a
video limit (``edgecloud.limits``: its headers, checked before decoding, a
frame, or the clip's wall-clock budget), gives
``Result(status="failed", error=why)`` instead of an exception; an error in
the detector itself is not the clip's fault and propagates, so the job can
be retried elsewhere.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Mapping, Optional, Sequence

import cv2

from .clock import utcnow
from .config import DetectorSettings
from .detect.regions import Rect, motion_regions
from .limits import Guard, OverLimit
from .limits_settings import LimitsSettings
from .protocol.keys import snapshot_key
from .protocol.labels import summarise
from .protocol.messages import Detection, Result
from .snapshot import BestFrame
from .tracking import ObjectTracker, with_unique
from .video import DecodeError, Frame, MotionGate, fit_within, open_clip, prefetched
from .zones import Point

log = logging.getLogger(__name__)


class _Timer(dict):
    """Accumulates seconds per phase."""

    def add(self, phase: str, since: float) -> float:
        now = time.perf_counter()
        self[phase] = self.get(phase, 0.0) + now - since
        return now


class DetectorError(RuntimeError):
    """The detector failed (OpenCV raised inside it): not the clip's fault, so it propagates."""


@dataclass
class _Pending:
    frame: Frame
    regions: Optional[list[Rect]] = None  # None: the whole frame


def _detect_batch(
    detector,
    batch: list[_Pending],
    max_side: Optional[int],
    best: Optional[BestFrame] = None,
    tracker: Optional[ObjectTracker] = None,
) -> list[Detection]:
    """One detector call for the batch: whole frames (downscaled) and motion regions (crops) alike;
    each frame and what was found in it is offered to ``best`` (the snapshot's candidate) and, in
    order, to ``tracker``."""
    images, origins = [], []  # origins: (frame, x offset, y offset, scale) of each image
    for item in batch:
        if item.regions is None:
            image, scale = fit_within(item.frame.image, max_side)
            images.append(image)
            origins.append((item.frame, 0, 0, scale))
        for x1, y1, x2, y2 in item.regions or ():
            images.append(item.frame.image[y1:y2, x1:x2])
            origins.append((item.frame, x1, y1, 1.0))
    try:
        boxes_per_image = detector.detect(images)
    except cv2.error as err:  # must not look like a decoding error to analyse_clip's guard
        raise DetectorError(f"detector {detector.name} failed: {err}") from err
    found = []
    for (frame, dx, dy, scale), boxes in zip(origins, boxes_per_image):
        for b in boxes:
            x1, y1, x2, y2 = b.box
            box = (
                round(x1 / scale + dx, 1),
                round(y1 / scale + dy, 1),
                round(x2 / scale + dx, 1),
                round(y2 / scale + dy, 1),
            )
            found.append(
                Detection(
                    t=round(frame.t, 3),
                    frame=frame.index,
                    label=b.label,
                    score=b.score,
                    box=box,
                    identity=b.identity,
                    distance=b.distance,
                )
            )
    for item in batch:
        in_frame = [d for d in found if d.frame == item.frame.index]
        if best is not None:
            best.offer(item.frame.image, in_frame)
        if tracker is not None:
            height, width = item.frame.image.shape[:2]
            tracker.update(item.frame.t, in_frame, width, height)
    return found


def analyse_clip(
    path: Path,
    detector,
    settings: DetectorSettings,
    *,
    clip_id: str,
    processed_by: str,
    fps: float | None = None,
    recorded_at: datetime | None = None,
    submitted_at: datetime | None = None,
    timings: dict | None = None,
    snapshot_path: Path | None = None,
    limits: LimitsSettings | None = None,
    zones: Mapping[str, Sequence[Point]] | None = None,
) -> Result:
    """Detect what a clip shows; see the module docstring for what fails and what raises.

    With ``snapshot_path``, the most telling analysed frame is written there as a JPEG
    (``edgecloud.snapshot``) and the result names its S3 key (``snapshot_key``). ``limits``
    (default: their defaults) bound the clip, and its analysis's wall-clock time from now. ``zones``
    (``settings.zones.of(device)``) are the ones its objects may enter."""
    guard = Guard(limits or LimitsSettings())
    started_at = utcnow()
    begin = time.perf_counter()
    timer = _Timer(timings or {})
    meta = dict(
        clip_id=clip_id,
        processed_by=processed_by,
        detector=detector.name,
        recorded_at=recorded_at,
        submitted_at=submitted_at,
        started_at=started_at,
    )
    gate = MotionGate() if settings.motion_gate else None
    # Any object with .name and .detect() will do (tests use fakes); ours also says how big frames should be.
    sizing = getattr(detector, "input_side", None)
    max_side = sizing(settings.max_side) if callable(sizing) else settings.max_side
    # Crops only pay off for detectors that see frames at full size; others shrink the whole frame anyway.
    use_regions = settings.motion_regions and max_side is None
    detections: list[Detection] = []
    analysed = 0
    best = BestFrame() if snapshot_path is not None else None
    tracker = ObjectTracker(settings.min_frames, zones)
    try:
        clip = open_clip(path, fps, guard)
    except (DecodeError, OverLimit) as err:
        return _failed(meta, str(err), timer, begin)
    with clip:
        batch: list[_Pending] = []
        frames = prefetched(clip.frames(settings.sample_fps)) if settings.prefetch else clip.frames(settings.sample_fps)
        try:
            for frame in frames:
                mark = time.perf_counter()
                item = _Pending(frame)
                if gate is not None:
                    look = gate.look(frame.image, frame.t)
                    if not look.keep:
                        timer.add("motion", mark)
                        continue
                    if use_regions and not look.full:
                        item.regions = motion_regions(look.mask, frame.image.shape)
                mark = timer.add("motion", mark)
                batch.append(item)
                analysed += 1
                if len(batch) >= settings.batch_size:
                    detections += _detect_batch(detector, batch, max_side, best, tracker)
                    timer.add("detect", mark)
                    batch = []
                    guard.in_time(f"frame {frame.index}")  # decoding may be waiting on the detector
        except OverLimit as err:
            return _failed(meta, str(err), timer, begin, clip.stats.frames_total)
        except cv2.error as err:
            return _failed(meta, f"decoding failed: {err}", timer, begin, clip.stats.frames_total)
        finally:
            frames.close()  # joins the decode thread before the capture is released
        timer["decode"] = clip.stats.seconds  # in the decode thread: overlaps motion and detect
        if batch:
            mark = time.perf_counter()
            detections += _detect_batch(detector, batch, max_side, best, tracker)
            timer.add("detect", mark)
    if clip.stats.frames_total == 0:
        return _failed(meta, "clip has no decodable frames (truncated or corrupt)", timer, begin)
    labels, summary = summarise(detections)
    objects = tracker.objects()
    summary = with_unique(summary, objects)
    snapshot = None
    if best is not None:
        mark = time.perf_counter()
        if best.write(snapshot_path) is not None:
            snapshot = snapshot_key(clip_id)
        timer.add("snapshot", mark)
    timer.setdefault("motion", 0.0)
    timer.setdefault("detect", 0.0)
    timer["total"] = time.perf_counter() - begin + timer.get("download", 0.0)
    return Result(
        **meta,
        status="done",
        labels=labels,
        summary=summary,
        detections=detections,
        objects=objects,
        frames_total=clip.stats.frames_total,
        frames_analysed=analysed,
        frames_skipped=clip.stats.frames_total - analysed,
        timings={k: round(v, 4) for k, v in timer.items()},
        finished_at=utcnow(),
        snapshot_key=snapshot,
    )


def _failed(meta: dict, why: str, timer: _Timer, begin: float, frames_total: int = 0) -> Result:
    log.warning("clip %s failed: %s", meta["clip_id"], why)
    timer["total"] = time.perf_counter() - begin + timer.get("download", 0.0)
    return Result(
        **meta,
        status="failed",
        error=why,
        frames_total=frames_total,
        timings={k: round(v, 4) for k, v in timer.items()},
        finished_at=utcnow(),
    )


def frame_detections(frame: Frame, boxes) -> list[Detection]:
    """A frame's boxes (already in its own pixels) as a result's detections."""
    return [
        Detection(
            t=round(frame.t, 3),
            frame=frame.index,
            label=b.label,
            score=b.score,
            box=b.box,
            identity=b.identity,
            distance=b.distance,
        )
        for b in boxes
    ]


def naive_detect(path: Path, detector, fps: float | None = None) -> list[Detection]:
    """The baseline the benchmark compares against: every frame, full resolution, one at a time."""
    found: list[Detection] = []
    with open_clip(path, fps) as clip:
        for frame in clip.frames():
            found += frame_detections(frame, detector.detect([frame.image])[0])
    return found


def analyse_image(image, detector, settings: DetectorSettings) -> list[Detection]:
    """Detect what one still frame (BGR) shows, with the same downscaling and labelling as a clip's frames."""
    return _detect_batch(detector, [_Pending(Frame(0, 0.0, image))], detector.input_side(settings.max_side))
