"""``edgecloud eval``'s measure: one detector under each preprocessing, timed, sized and scored.

Each frame is made as it would arrive (resized, JPEG round-tripped, its bytes counted), the detector
is timed on it, and its boxes, scaled back to the original frame's pixels, are matched against the
reference (precision, recall, F1 at IoU 0.5). Apart from :mod:`.evaluate`, which chooses the
models, the frames and the reference, so that what a row of ``eval.csv`` means reads in one place.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace

import cv2
import numpy as np

from .metrics import Tally, match_frame

NO_WEIGHTS = "no weights offline"  # the weights of a model that could not be scored


@dataclass
class Row:
    """One row of ``eval.csv``: a model under one preprocessing, and its figures."""

    model: str
    weights: str
    resize_pct: int
    jpeg_quality: int  # 0: not re-encoded
    bytes_per_frame: float
    bytes_saved_pct: float
    ms_per_frame: float
    detections: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float

    @classmethod
    def unscored(cls, model: str) -> Row:
        """A model with no trained weights offline: listed, not scored."""
        return cls(model, NO_WEIGHTS, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)


def preprocess(image: np.ndarray, resize_pct: int, quality: int) -> tuple[np.ndarray, int]:
    """The frame as it would arrive: resized, JPEG round-tripped at ``quality`` (0: lossless PNG); and its bytes."""
    if resize_pct != 100:
        h, w = image.shape[:2]
        image = cv2.resize(
            image, (round(w * resize_pct / 100), round(h * resize_pct / 100)), interpolation=cv2.INTER_AREA
        )
    if quality:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(data, cv2.IMREAD_COLOR), len(data)
    ok, data = cv2.imencode(".png", image)
    return image, len(data)


def detect_scaled(detector, image: np.ndarray, resize_pct: int) -> list:
    """Detections on a resized frame, with boxes back in the original frame's pixels."""
    factor = 100 / resize_pct
    return [
        SimpleNamespace(label=b.label, score=b.score, box=tuple(v * factor for v in b.box))
        for b in detector.detect([image])[0]
    ]


def score(name: str, detector, frames: list, truth: list, resizes, qualities, baseline_bytes: float) -> Iterator[Row]:
    """A row per (resize %, JPEG quality): ``detector`` on ``frames`` against ``truth``, bytes against the baseline."""
    warm_shape = None
    for pct in resizes:
        for quality in qualities:
            tally, sizes, spent, count = Tally(), [], 0.0, 0
            for image, ref in zip(frames, truth):
                small, size = preprocess(image, pct, quality)
                sizes.append(size)
                if small.shape != warm_shape:  # untimed: a cv2.dnn net reallocates for a new frame
                    detector.detect([small])  # size, which one camera's frames never change
                    warm_shape = small.shape
                start = time.perf_counter()
                found = detect_scaled(detector, small, pct)
                spent += time.perf_counter() - start
                count += len(found)
                tally.add(match_frame(found, ref))
            yield Row(
                name,
                "random" if detector.random_weights else "trained",
                pct,
                quality,
                round(float(np.mean(sizes))),
                round(100 * (1 - np.mean(sizes) / baseline_bytes), 1),
                round(1000 * spent / len(frames), 2),
                count,
                tally.tp,
                tally.fp,
                tally.fn,
                round(tally.precision, 3),
                round(tally.recall, 3),
                round(tally.f1, 3),
            )
