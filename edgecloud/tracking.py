"""Objects, not detections: a clip's analysed frames followed by a tracker, each object counted once.

The tracker is ``edgefirst-tracker``'s ByteTrack (Kalman prediction, IoU association by Jonker-Volgenant,
a Rust extension needing only numpy: light enough for the Pi and the Lambda zip). It runs one tracker per
label, so a person never continues as a car. Its clock is the clip's: a track lives ``lifespan_s`` without
a match, whatever the sampling rate, so a walker hidden for a sampled frame or two keeps its id.

An object counts once it was seen in ``min_frames`` analysed frames (a one-frame flicker is none). It is
``stationary`` when its box centre stayed within ``STATIONARY_SPREAD`` of its mean size (the square root of
its box's area) over the whole time it was seen: a parked car, not a passer-by.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping, Optional, Sequence

import numpy as np
from edgefirst.tracker import ByteTrack

from .protocol.messages import Detection, LabelSummary, TrackedObject
from .zones import Point, Zones

STATIONARY_SPREAD = 0.25  # of the object's size: centre jitter stays well under it, a step crosses it


@dataclass(frozen=True)
class TrackerTuning:
    """ByteTrack's knobs, for frames detector.sample_fps (2) apart; measured in ``docs/detectors.md``."""

    high_conf: float = 0.5  # detector.min_score already dropped weaker boxes: each one left may start a track
    iou: float = 0.1  # the association's gate, on buffered boxes
    smoothing: float = 0.25  # the Kalman update's blend (the library's default)
    lifespan_s: float = 3.0  # unmatched this long, a track ends: a walker the detector misses for a second keeps it
    buffer: float = 1.0  # each box grows by its size on every side before association (buffered IoU): a walker
    # moves about half its width in 0.5 s, and YOLOv3-tiny misses small walkers in some frames


@dataclass
class _Track:
    label: str
    first_s: float
    last_s: float = 0.0
    frames: int = 0
    best_score: float = -1.0
    best_box: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    best_s: float = 0.0
    zones: set[str] = field(default_factory=set)
    centres: list[tuple[float, float]] = field(default_factory=list)
    sizes: list[float] = field(default_factory=list)

    def add(self, t: float, d: Detection, zones: set[str]) -> None:
        self.last_s = t
        self.frames += 1
        if d.score > self.best_score:
            self.best_score, self.best_box, self.best_s = d.score, tuple(d.box), t
        self.zones |= zones
        x1, y1, x2, y2 = d.box
        self.centres.append(((x1 + x2) / 2, (y1 + y2) / 2))
        self.sizes.append(math.sqrt(max(x2 - x1, 0.0) * max(y2 - y1, 0.0)))

    @property
    def stationary(self) -> bool:
        xs, ys = zip(*self.centres)
        spread = math.hypot(max(xs) - min(xs), max(ys) - min(ys))
        return spread < STATIONARY_SPREAD * (sum(self.sizes) / len(self.sizes))


class ObjectTracker:
    """Feed it each analysed frame in time order (``update``); ask for the ``objects`` it followed."""

    def __init__(
        self,
        min_frames: int = 2,
        zones: Optional[Mapping[str, Sequence[Point]]] = None,
        tuning: TrackerTuning = TrackerTuning(),
    ):
        self.min_frames = min_frames
        self.tuning = tuning
        self._zones = Zones(zones)
        self._trackers: dict[str, ByteTrack] = {}
        self._tracks: dict[tuple[str, str], _Track] = {}  # (label, the tracker's uuid)

    def update(self, t: float, detections: Iterable[Detection], width: int, height: int) -> None:
        """One analysed frame at ``t`` seconds (``width`` x ``height`` pixels) and what was detected in it;
        frames with nothing in them count too (tracks age by the clip's clock)."""
        by_label: dict[str, list[Detection]] = {label: [] for label in self._trackers}
        for d in detections:
            by_label.setdefault(d.label, []).append(d)
        stamp = int(round(t * 1e9))
        for label, found in by_label.items():
            tracker = self._trackers.get(label) or self._trackers.setdefault(label, self._new_tracker())
            boxes = _buffered(np.array([d.box for d in found], dtype=np.float32).reshape(-1, 4), self.tuning.buffer)
            scores = np.array([d.score for d in found], dtype=np.float32)
            labels = np.zeros(len(found), dtype=np.uint64)  # one tracker per label
            for d, info in zip(found, tracker.update(boxes, scores, labels, stamp)):
                if info is None:  # a weak detection no track wanted
                    continue
                track = self._tracks.setdefault((label, info.uuid), _Track(label, first_s=t))
                track.add(t, d, self._zones.of(d.box, width, height) if self._zones else set())

    def _new_tracker(self) -> ByteTrack:
        tuning = self.tuning
        return ByteTrack(
            high_conf=tuning.high_conf,
            iou=tuning.iou,
            update=tuning.smoothing,
            lifespan_ns=int(tuning.lifespan_s * 1e9),
        )

    def objects(self) -> list[TrackedObject]:
        """The objects seen in at least ``min_frames`` analysed frames, by first_seen_s, numbered from 1."""
        kept = sorted(
            (tr for tr in self._tracks.values() if tr.frames >= self.min_frames),
            key=lambda tr: (tr.first_s, tr.best_box),
        )
        return [
            TrackedObject(
                track_id=number,
                label=tr.label,
                first_seen_s=round(tr.first_s, 3),
                last_seen_s=round(tr.last_s, 3),
                frames=tr.frames,
                best_score=round(tr.best_score, 4),
                best_box=tr.best_box,
                best_frame_s=round(tr.best_s, 3),
                zones=sorted(tr.zones),
                stationary=tr.stationary,
            )
            for number, tr in enumerate(kept, start=1)
        ]


def _buffered(boxes: np.ndarray, buffer: float) -> np.ndarray:
    """Boxes grown by ``buffer`` of their width and height on each side: boxes a sampled interval apart
    overlap again (Yang et al.'s buffered IoU, made for objects that move far between frames)."""
    grow = (boxes[:, 2:] - boxes[:, :2]) * buffer
    return np.hstack([boxes[:, :2] - grow, boxes[:, 2:] + grow])


def with_unique(summary: dict[str, LabelSummary], objects: list[TrackedObject]) -> dict[str, LabelSummary]:
    """The summary with each label's ``unique``: its tracked objects (0 where only flickers were seen)."""
    counts: dict[str, int] = {}
    for o in objects:
        counts[o.label] = counts.get(o.label, 0) + 1
    return {label: s.model_copy(update={"unique": counts.get(label, 0)}) for label, s in summary.items()}
