"""Box agreement between a model and a reference: precision, recall and F1 at IoU 0.5."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

Box = Sequence[float]  # x1, y1, x2, y2


def iou(a: Box, b: Box) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


@dataclass
class Tally:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, other: "Tally") -> None:
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else (1.0 if not self.fn else 0.0)

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def match_frame(found: Iterable, reference: Iterable, threshold: float = 0.5) -> Tally:
    """Greedy matching, best score first: a found box is a true positive when it overlaps an
    unmatched reference box of the same label by at least ``threshold`` IoU.

    ``found`` items need ``label``, ``score``, ``box``; ``reference`` items ``label`` and ``box``.
    """
    unmatched = list(reference)
    tally = Tally()
    for det in sorted(found, key=lambda d: -d.score):
        candidates = [(iou(det.box, ref.box), i) for i, ref in enumerate(unmatched) if ref.label == det.label]
        best = max(candidates, default=(0.0, -1))
        if best[0] >= threshold:
            unmatched.pop(best[1])
            tally.tp += 1
        else:
            tally.fp += 1
    tally.fn = len(unmatched)
    return tally
