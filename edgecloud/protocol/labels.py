"""A result's ``labels`` string and per-label summary, from its detections."""

from __future__ import annotations

from .messages import Detection, LabelSummary


def steady_count(per_frame_counts) -> int:
    """The most objects at least two frames showed: the second-highest per-frame count (0 with one frame)."""
    counts = sorted(per_frame_counts, reverse=True)
    return counts[1] if len(counts) > 1 else 0


def summarise(detections: list[Detection]) -> tuple[str, dict[str, LabelSummary]]:
    """The `labels` string and per-label summary of a list of detections."""
    per_frame: dict[str, dict[int, int]] = {}
    best: dict[str, float] = {}
    seen: dict[str, set[str]] = {}
    for d in detections:
        per_frame.setdefault(d.label, {}).setdefault(d.frame, 0)
        per_frame[d.label][d.frame] += 1
        best[d.label] = max(best.get(d.label, 0.0), d.score)
        if d.identity is not None:
            seen.setdefault(d.label, set()).add(d.identity)
    summary = {
        label: LabelSummary(
            max_count=max(frames.values()),
            frames_seen=len(frames),
            best_score=round(best[label], 4),
            steady_count=steady_count(frames.values()),
            identities=sorted(seen[label]) if label in seen else None,
        )
        for label, frames in sorted(per_frame.items())
    }
    return ",".join(summary), summary
