"""A clip's snapshot: its most telling frame, with the boxes and labels drawn, as a small JPEG.

The pipeline offers every analysed frame and its detections to a
:class:`BestFrame` while it works, so the snapshot costs no second decode:
only the best frame so far is kept (copied once when it takes the lead).
"Most telling" is the frame with the most detections, ties broken by their
summed scores; a clip where nothing was found shows its first analysed frame.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

import cv2
import numpy as np

MAX_BYTES = 100 * 1024  # the budget of one snapshot at 720p
MAX_SIDE = 1280  # longer side of the picture kept (720p)
_QUALITIES = (80, 70, 60, 50, 40, 30)
# BGR colours per label, so a person and a car differ at a glance; other labels get the last one.
_COLOURS = {"person": (60, 200, 60), "car": (40, 140, 255), "face": (255, 160, 40)}
_OTHER = (220, 220, 40)


class BestFrame:
    """Keeps the most telling frame seen so far and its detections."""

    def __init__(self):
        self.image: Optional[np.ndarray] = None
        self.detections: list = []
        self._rank = (-1, -1.0)

    def offer(self, image: np.ndarray, detections: Sequence) -> None:
        rank = (len(detections), sum(d.score for d in detections))
        if rank > self._rank:
            self._rank = rank
            self.image = image.copy()  # the decoder may reuse its buffer
            self.detections = list(detections)

    def write(self, path: Path) -> Optional[int]:
        """Write the snapshot JPEG to ``path``; its size in bytes, or None when no frame was seen."""
        if self.image is None:
            return None
        data = render(self.image, self.detections)
        Path(path).write_bytes(data)
        return len(data)


def render(image: np.ndarray, detections: Sequence) -> bytes:
    """The frame, fitted within MAX_SIDE, with each detection's box and 'label score' drawn; JPEG
    at the best quality that fits MAX_BYTES (made smaller when even the lowest quality does not)."""
    h, w = image.shape[:2]
    scale = min(1.0, MAX_SIDE / max(h, w))
    picture = (
        cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
        if scale < 1
        else image.copy()
    )
    thickness = max(1, round(max(picture.shape[:2]) / 400))
    for d in detections:
        colour = _COLOURS.get(d.label, _OTHER)
        x1, y1, x2, y2 = (round(v * scale) for v in d.box)
        cv2.rectangle(picture, (x1, y1), (x2, y2), colour, thickness)
        text = f"{d.label} {d.score:.2f}"
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.45 * thickness, thickness)
        top = max(0, y1 - th - base - 2)
        left = max(0, min(x1, picture.shape[1] - tw - 4))  # a box at the right edge: its label stays inside
        cv2.rectangle(picture, (left, top), (left + tw + 4, top + th + base + 2), colour, -1)
        cv2.putText(
            picture,
            text,
            (left + 2, top + th + 1),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.45 * thickness,
            (0, 0, 0),
            thickness,
            cv2.LINE_AA,
        )
    while True:
        for quality in _QUALITIES:
            ok, encoded = cv2.imencode(".jpg", picture, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise ValueError("OpenCV could not encode the snapshot")
            if len(encoded) <= MAX_BYTES:
                return encoded.tobytes()
        # Too busy a picture even at the lowest quality: a smaller one, boxes and all.
        picture = cv2.resize(picture, None, fx=0.75, fy=0.75, interpolation=cv2.INTER_AREA)


def is_jpeg(data: bytes) -> bool:
    return data[:3] == b"\xff\xd8\xff"
