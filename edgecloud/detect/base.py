"""What every detector backend is, and the one place raw output becomes labels.

A backend turns a batch of BGR frames into :class:`RawDetections` (boxes,
scores, class ids in the frame's own pixels) and nothing else. Label maps,
``min_score`` and the ``labels`` filter are applied once, here, by
:class:`Detector`, so they behave the same for every backend.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Optional, Sequence

import numpy as np

from ..config import DetectorSettings


class DetectorUnavailable(RuntimeError):
    """A backend cannot start: its package or its weights are missing (the message says what to do)."""


@dataclass(frozen=True)
class RawDetections:
    """One frame's model output before labelling: ``boxes`` (N, 4) x1 y1 x2 y2, ``scores`` (N,), ``classes`` (N,);
    a face backend adds ``identities``: (name or ``unknown``, distance) per box."""

    boxes: np.ndarray
    scores: np.ndarray
    classes: np.ndarray
    identities: Optional[list[tuple[str, Optional[float]]]] = None

    @classmethod
    def empty(cls) -> "RawDetections":
        return cls(np.zeros((0, 4), np.float32), np.zeros(0, np.float32), np.zeros(0, np.int64))

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class Box:
    """A labelled detection in one frame (the pipeline adds time and frame number)."""

    label: str
    score: float
    box: tuple[float, float, float, float]
    identity: Optional[str] = None  # faces: the enrolled name, or "unknown"
    distance: Optional[float] = None  # faces: to the nearest enrolled face


class Backend(ABC):
    """One model family. Must set ``key`` and ``labelmap`` and implement :meth:`infer`.

    May set ``input_side`` (the longer side the model wants; the pipeline
    downscales frames to it), ``resizable = False`` (the model finds objects
    of a fixed pixel size, so shrinking frames loses small ones: it gets them
    at full size) and ``random_weights`` (True when built without
    trained weights, so callers can say labels are meaningless).
    """

    key: ClassVar[str]
    labelmap: Sequence[str] = ()
    input_side: Optional[int] = None
    resizable: bool = True
    random_weights: bool = False
    parameters: int = 0  # size of the model, used to pick the largest as a reference

    def __init__(self, model: Optional[str], settings: DetectorSettings):
        self.model = model
        self.settings = settings

    @abstractmethod
    def infer(self, frames: list[np.ndarray]) -> list[RawDetections]:
        """Raw output for each BGR uint8 frame, in that frame's pixels."""


class Detector:
    """A backend plus its labelling: ``detect(frames) -> [[Box, ...], ...]``."""

    def __init__(self, backend: Backend, settings: DetectorSettings, name: Optional[str] = None):
        self.backend = backend
        self.name = name or settings.name
        self.min_score = settings.min_score
        self.keep = frozenset(settings.labels)

    @property
    def random_weights(self) -> bool:
        return self.backend.random_weights

    def input_side(self, max_side: Optional[int]) -> Optional[int]:
        """The longer side frames should be downscaled to (None: keep their size)."""
        if not self.backend.resizable:
            return None
        sides = [s for s in (max_side, self.backend.input_side) if s]
        return min(sides) if sides else None

    def label(self, raw: RawDetections) -> list[Box]:
        boxes = []
        identities = raw.identities or [(None, None)] * len(raw)
        for xyxy, score, cls, (identity, distance) in zip(raw.boxes, raw.scores, raw.classes, identities):
            label = label_of(self.backend.labelmap, int(cls))
            if score < self.min_score or label is None or (self.keep and label not in self.keep):
                continue
            boxes.append(
                Box(label, round(float(score), 4), tuple(round(float(v), 1) for v in xyxy), identity, distance)
            )
        return boxes

    def detect(self, frames: list[np.ndarray]) -> list[list[Box]]:
        if not frames:
            return []
        return [self.label(raw) for raw in self.backend.infer(frames)]

    def __repr__(self) -> str:
        weights = " random-weights" if self.random_weights else ""
        return f"<Detector {self.name}{weights} min_score={self.min_score}>"


def label_of(labelmap: Sequence[str], cls: int) -> Optional[str]:
    """The label of a class id; None for background, placeholders ('N/A') and ids off the map."""
    if 0 <= cls < len(labelmap):
        label = labelmap[cls]
        if label and label not in ("__background__", "N/A"):
            return label
    return None
