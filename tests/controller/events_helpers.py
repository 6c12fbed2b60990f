"""Results with tracked objects, as the tracker makes them, for the events tests."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from edgecloud.controller.events import event_clip
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.messages import LabelSummary, Result, TrackedObject

T0 = datetime(2026, 12, 3, 7, 0, tzinfo=timezone.utc)


def tracked(
    at_s: float,
    *,
    device: str = "pi-01",
    labels=("person",),
    zones=(),
    score: float = 0.8,
    seen_s: float = 5.0,
    snapshot: bool = True,
) -> Result:
    """A clip of ``device`` triggered ``at_s`` seconds after T0, each of ``labels`` one tracked object seen
    for ``seen_s`` seconds in ``zones``."""
    at = T0 + timedelta(seconds=at_s)
    clip_id = new_clip_id(device, at)
    objects = [
        TrackedObject(
            track_id=n,
            label=label,
            first_seen_s=0.0,
            last_seen_s=seen_s,
            frames=4,
            best_score=score,
            best_box=(10, 10, 50, 90),
            best_frame_s=1.0,
            zones=sorted(zones),
        )
        for n, label in enumerate(labels)
    ]
    summary = {
        label: LabelSummary(max_count=labels.count(label), frames_seen=4, best_score=score, unique=labels.count(label))
        for label in set(labels)
    }
    return Result(
        clip_id=clip_id,
        processed_by="i-abc",
        detector="test",
        labels=",".join(sorted(set(labels))),
        summary=summary,
        objects=objects,
        recorded_at=at,
        snapshot_key=f"snapshots/{clip_id}.jpg" if snapshot else None,
    )


DAY = 86400


def placed_events(store):
    """Nine events placed in ``store`` over two days; three devices' events start at one instant, twice (ties)."""
    at = [(-DAY, "pi-01", ("person",)), (-DAY + 60, "pi-02", ("dog",))]
    at += [(0, d, ("person",)) for d in ("pi-01", "pi-02", "pi-03")]
    at += [(100, "pi-01", ("dog",)), (200, "pi-01", ("person", "dog")), (200, "pi-02", ("person",))]
    at += [(300, "pi-03", ("car",))]
    return [store.add_clip(event_clip(tracked(s, device=d, labels=labels))) for s, d, labels in at]


def newest_first(events):
    return sorted(events, key=lambda e: (e.started_at, e.event_id), reverse=True)


def ids(events):
    return [e.event_id for e in events]
