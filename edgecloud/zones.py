"""Zones: named polygons in 0-1 coordinates of a camera's frame (``zones:`` in the config, per device).

An object is in a zone where it stands: its box's bottom centre, the point of a walker's feet or a car's
wheels, not where its box happens to overlap. The point-in-polygon test is OpenCV's.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import cv2
import numpy as np

Point = tuple[float, float]
Box = tuple[float, float, float, float]


def foot(box: Box, width: int, height: int) -> Point:
    """Where a box stands, in 0-1 coordinates of a ``width`` x ``height`` frame: its bottom centre."""
    x1, _, x2, y2 = box
    return (x1 + x2) / 2 / width, y2 / height


class Zones:
    """A device's zones, ready to ask which of them a box stands in."""

    def __init__(self, zones: Mapping[str, Sequence[Point]] | None = None):
        self._polygons = {
            name: np.asarray(points, dtype=np.float32).reshape(-1, 1, 2) for name, points in (zones or {}).items()
        }

    def __bool__(self) -> bool:
        return bool(self._polygons)

    def of(self, box: Box, width: int, height: int) -> set[str]:
        """The zones ``box`` (source pixels of a ``width`` x ``height`` frame) stands in; an edge counts as in."""
        if not self._polygons:
            return set()
        x, y = foot(box, width, height)
        return {
            name
            for name, polygon in self._polygons.items()
            if cv2.pointPolygonTest(polygon, (float(x), float(y)), False) >= 0
        }
