"""Regions of a frame worth a detector's time: where the motion mask says something moved.

For detectors that see frames at full size (HOG), running on the moving parts
of a frame instead of all of it is most of the pipeline's speed-up. Regions
are grown by a margin (a moving leg should still give the whole person), made
at least the detector's window, and merged until none overlap, so one object
is never found twice in two regions.
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

Rect = tuple[int, int, int, int]  # x1, y1, x2, y2 in frame pixels


def _overlap(a: Rect, b: Rect) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def _fit(lo: float, hi: float, limit: int) -> tuple[int, int]:
    """Shift [lo, hi) inside [0, limit) keeping its length where it fits (a region at an edge keeps its size)."""
    lo, hi = int(lo), int(hi + 1)
    if lo < 0:
        lo, hi = 0, hi - lo
    if hi > limit:
        lo, hi = max(0, lo - (hi - limit)), limit
    return lo, hi


def merge(rects: list[Rect]) -> list[Rect]:
    """Union overlapping rectangles until all are disjoint."""
    rects = list(rects)
    merged = True
    while merged:
        merged = False
        out: list[Rect] = []
        for r in rects:
            for i, o in enumerate(out):
                if _overlap(r, o):
                    out[i] = (min(r[0], o[0]), min(r[1], o[1]), max(r[2], o[2]), max(r[3], o[3]))
                    merged = True
                    break
            else:
                out.append(r)
        rects = out
    return rects


def motion_regions(
    mask: np.ndarray,
    frame_shape: tuple[int, ...],
    margin: float = 0.5,
    min_size: tuple[int, int] = (96, 160),
    max_fraction: float = 0.6,
) -> Optional[list[Rect]]:
    """Disjoint rectangles (frame pixels) around the mask's blobs; None when they cover most of the frame.

    ``margin`` grows each blob by that fraction of its height on every side;
    ``min_size`` is (width, height), e.g. HOG's 64x128 window plus padding.
    """
    fh, fw = frame_shape[:2]
    sy, sx = fh / mask.shape[0], fw / mask.shape[1]
    count, _, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), connectivity=8)
    rects: list[Rect] = []
    for x, y, w, h, _area in stats[1:count]:
        x1, y1, x2, y2 = x * sx, y * sy, (x + w) * sx, (y + h) * sy
        grow = margin * (y2 - y1)
        cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
        half_w = max((x2 - x1) / 2 + grow, min_size[0] / 2)
        half_h = max((y2 - y1) / 2 + grow, min_size[1] / 2)
        rects.append((*_fit(cx - half_w, cx + half_w, fw), *_fit(cy - half_h, cy + half_h, fh)))
    rects = [(x1, y1, x2, y2) for x1, x2, y1, y2 in rects]
    rects = merge(rects)
    covered = sum((r[2] - r[0]) * (r[3] - r[1]) for r in rects)
    return None if covered > max_fraction * fw * fh else rects
