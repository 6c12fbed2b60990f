"""``hog`` / ``hog:daimler``: OpenCV's pretrained HOG + linear SVM people detectors.

Needs nothing beyond OpenCV, so it is the offline default and runs on a Pi.
The default model has a 64x128 window (people at least ~128 px tall); the
Daimler model a 48x96 window, for smaller people. The SVM margin is squashed
to a score with a logistic curve: 0.5 at the SVM's own decision boundary.
"""

from __future__ import annotations

import cv2
import numpy as np

from .base import Backend, DetectorUnavailable, RawDetections

PEOPLE_DETECTORS = {
    "default": lambda: (cv2.HOGDescriptor(), cv2.HOGDescriptor_getDefaultPeopleDetector()),
    "daimler": lambda: (
        cv2.HOGDescriptor((48, 96), (16, 16), (8, 8), (8, 8), 9),
        cv2.HOGDescriptor_getDaimlerPeopleDetector(),
    ),
}


class HogBackend(Backend):
    """HOG people detector; class 1 is ``person``."""

    key = "hog"
    labelmap = ("__background__", "person")
    resizable = False  # its 64x128 window finds people >= ~128 px tall; shrinking frames loses them
    win_stride = (8, 8)
    padding = (8, 8)
    scale = 1.05

    def __init__(self, model, settings):
        super().__init__(model or "default", settings)
        if self.model not in PEOPLE_DETECTORS:
            raise DetectorUnavailable(f"hog has models {sorted(PEOPLE_DETECTORS)}, not {self.model!r}")
        self.hog, svm = PEOPLE_DETECTORS[self.model]()
        self.hog.setSVMDetector(svm)
        self.parameters = int(np.size(svm))

    def infer(self, frames):
        out = []
        win_w, win_h = self.hog.winSize
        for frame in frames:
            if frame.shape[0] < win_h or frame.shape[1] < win_w:
                out.append(RawDetections.empty())  # smaller than one window (OpenCV can crash on these)
                continue
            rects, margins = self.hog.detectMultiScale(
                frame, winStride=self.win_stride, padding=self.padding, scale=self.scale
            )
            if len(rects) == 0:
                out.append(RawDetections.empty())
                continue
            rects = np.asarray(rects, np.float32).reshape(-1, 4)
            boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
            scores = 1.0 / (1.0 + np.exp(-np.ravel(margins).astype(np.float32)))
            keep = suppress_duplicates(boxes, scores)
            out.append(RawDetections(boxes[keep], scores[keep], np.ones(len(keep), np.int64)))
        return out


def suppress_duplicates(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.5, inside: float = 0.6) -> list[int]:
    """Greedy non-maximum suppression that also drops a box lying mostly inside a better one.

    HOG's own grouping leaves nested boxes on one person (whole body and
    torso), which would count one person twice.
    """
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    keep: list[int] = []
    for i in np.argsort(-scores):
        for j in keep:
            w = min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0])
            h = min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1])
            inter = max(w, 0) * max(h, 0)
            if inter > iou * (areas[i] + areas[j] - inter) or inter > inside * min(areas[i], areas[j]):
                break
        else:
            keep.append(int(i))
    return keep
