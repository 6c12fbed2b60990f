"""``haar:<cascade>``: OpenCV's pretrained Viola-Jones cascades (``fullbody``, ``upperbody``, ``frontalface``).

They ship with OpenCV, so like HOG they work offline and give a second and
third real, trained model to compare in ``edgecloud eval``. A cascade gives
no confidence; every hit scores 1.0 (OpenCV's neighbour count is not a score).
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from .base import Backend, DetectorUnavailable, RawDetections

CASCADES = {
    "fullbody": ("haarcascade_fullbody.xml", "person"),
    "upperbody": ("haarcascade_upperbody.xml", "person"),
    "frontalface": ("haarcascade_frontalface_default.xml", "face"),
}


class HaarBackend(Backend):
    """A Haar cascade on the grey frame; class 1 is its one label."""

    key = "haar"
    resizable = False  # like HOG, a fixed-size window: small objects vanish when the frame shrinks

    def __init__(self, model, settings):
        super().__init__(model or "fullbody", settings)
        if self.model not in CASCADES:
            raise DetectorUnavailable(f"haar has cascades {sorted(CASCADES)}, not {self.model!r}")
        filename, label = CASCADES[self.model]
        path = Path(cv2.data.haarcascades) / filename
        self.cascade = cv2.CascadeClassifier(str(path))
        if self.cascade.empty():
            raise DetectorUnavailable(f"OpenCV's cascade {path} is missing; reinstall opencv-python-headless")
        self.labelmap = ("__background__", label)
        self.parameters = path.stat().st_size // 16  # rough: features in the XML

    def infer(self, frames):
        out = []
        for frame in frames:
            grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
            rects = self.cascade.detectMultiScale(grey, scaleFactor=1.1, minNeighbors=3)
            if len(rects) == 0:
                out.append(RawDetections.empty())
                continue
            rects = np.asarray(rects, np.float32).reshape(-1, 4)
            boxes = np.concatenate([rects[:, :2], rects[:, :2] + rects[:, 2:]], axis=1)
            out.append(RawDetections(boxes, np.ones(len(boxes), np.float32), np.ones(len(boxes), np.int64)))
        return out
