"""Events: the clips of one device in which tracked objects appear, grouped the way a person reviews them.

A clip with tracked objects spans from its trigger (``recorded_at``) to the last moment an object was
seen in it. Clips of one device chain into one event when each starts less than ``events.gap_s``
after the previous one ended: a person lingering at the door re-triggers the PIR, and that is one
visit, reviewed together and notified once. Results without objects (a detector without a tracker,
an older result) form no event.

Grouping is order-free: a clip joins every event it chains with, merging them (an earlier clip that
arrives late can bridge two events). The event that started first keeps its id; the others leave a
tombstone pointing at it, so their ids (in an alert already sent) still lead somewhere. The stores
(``event_store``) run ``regroup`` under a lock or a conditional write, so two controllers agree.

Per label, ``unique`` is the most objects of that label one clip of the event tracked: at least that
many distinct ones were there. ``sightings`` is the sum over clips: at most that many (a person who
lingered through three clips is one visitor and three sightings). Trackers do not follow objects
across clips, so the truth lies between; ``unique`` is the figure that does not count the lingerer thrice.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Iterable, Optional

from edgecloud.protocol.ids import BadClipId, ClipId
from edgecloud.protocol.messages import Result

EVENT_PREFIX = "ev_"


class BadEventId(ValueError):
    pass


def event_id_for(first_clip_id: str) -> str:
    """A new event's id: the id of the clip that opens it (time, device, random), marked as an event's.
    It stays when an earlier clip, arriving late, joins the event: an alert's link must not go dead."""
    return EVENT_PREFIX + first_clip_id


def check_event_id(text: str) -> ClipId:
    """The clip id inside an event id (its device and time); BadEventId for anything else."""
    if not isinstance(text, str) or not text.startswith(EVENT_PREFIX):
        raise BadEventId(f"not an event id (ev_<clip id>): {text[:80]!r}")
    try:
        return ClipId(text[len(EVENT_PREFIX) :])
    except BadClipId as err:
        raise BadEventId(f"not an event id: {err}") from None


@dataclass(frozen=True)
class EventClip:
    """One clip's part in an event."""

    clip_id: str
    device_id: str
    started_at: datetime
    ended_at: datetime
    unique: dict[str, int]  # label -> tracked objects in this clip
    zones: tuple[str, ...]
    best_score: float
    snapshot_key: Optional[str] = None

    def as_dict(self) -> dict:
        return {
            "clip_id": self.clip_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "unique": self.unique,
            "zones": list(self.zones),
            "best_score": self.best_score,
            "snapshot_key": self.snapshot_key,
        }

    @classmethod
    def from_dict(cls, device_id: str, d: dict) -> "EventClip":
        return cls(
            d["clip_id"],
            device_id,
            datetime.fromisoformat(d["started_at"]),
            datetime.fromisoformat(d["ended_at"]),
            dict(d["unique"]),
            tuple(d["zones"]),
            float(d["best_score"]),
            d.get("snapshot_key"),
        )


def event_clip(result: Result) -> Optional[EventClip]:
    """The part ``result`` plays in an event; None when it has no tracked objects (it forms none).
    It began at ``recorded_at``, or else at the time its clip id carries (the Pi's recording time)."""
    try:
        clip_id = ClipId(result.clip_id)
    except BadClipId:
        return None
    if result.status != "done" or not result.objects:
        return None
    start = result.recorded_at or clip_id.recorded_at
    start = (start if start.tzinfo else start.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
    unique: dict[str, int] = {}
    for obj in result.objects:
        unique[obj.label] = unique.get(obj.label, 0) + 1
    return EventClip(
        result.clip_id,
        clip_id.device,
        start,
        start + timedelta(seconds=max(o.last_seen_s for o in result.objects)),
        unique,
        tuple(sorted({z for o in result.objects for z in o.zones})),
        max(o.best_score for o in result.objects),
        result.snapshot_key,
    )


@dataclass(frozen=True)
class Event:
    """Clips of one device, each starting less than ``events.gap_s`` after the one before ended."""

    event_id: str
    device_id: str
    clips: tuple[EventClip, ...]  # by trigger time
    claims: frozenset[str] = field(default_factory=frozenset)  # notification rules that fired for it

    @property
    def started_at(self) -> datetime:
        return self.clips[0].started_at

    @property
    def ended_at(self) -> datetime:
        return max(c.ended_at for c in self.clips)

    @property
    def clip_ids(self) -> list[str]:
        return [c.clip_id for c in self.clips]

    @property
    def unique(self) -> dict[str, int]:
        return {label: max(c.unique.get(label, 0) for c in self.clips) for label in self.labels}

    @property
    def sightings(self) -> dict[str, int]:
        return {label: sum(c.unique.get(label, 0) for c in self.clips) for label in self.labels}

    @property
    def labels(self) -> list[str]:
        return sorted({label for c in self.clips for label in c.unique})

    @property
    def zones(self) -> list[str]:
        return sorted({z for c in self.clips for z in c.zones})

    @property
    def best(self) -> EventClip:
        """The clip whose object scored best (one with a snapshot, when any has)."""
        return max(self.clips, key=lambda c: (c.snapshot_key is not None, c.best_score))

    def as_json(self) -> dict:
        best = self.best
        return {
            "event_id": self.event_id,
            "device_id": self.device_id,
            "started_at": self.started_at.isoformat(),
            "ended_at": self.ended_at.isoformat(),
            "labels": self.labels,
            "unique": self.unique,
            "sightings": self.sightings,
            "zones": self.zones,
            "clip_ids": self.clip_ids,
            "best_clip_id": best.clip_id,
            "best_score": round(best.best_score, 4),
            "snapshot_key": best.snapshot_key,
        }


def make_event(event_id: str, device_id: str, clips: Iterable[EventClip], claims: Iterable[str] = ()) -> Event:
    return Event(event_id, device_id, tuple(sorted(clips, key=lambda c: (c.started_at, c.clip_id))), frozenset(claims))


def chains(event: Event, clip: EventClip, gap_s: float) -> bool:
    """Whether ``clip`` belongs with ``event``: whichever comes second starts less than ``gap_s``
    after the first ended (overlapping ones always do)."""
    apart = max(clip.started_at - event.ended_at, event.started_at - clip.ended_at)
    return apart.total_seconds() < gap_s


def near(clip: EventClip, gap_s: float) -> tuple[datetime, datetime]:
    """The window an event must reach into to chain with ``clip``: (ends after, starts before)."""
    gap = timedelta(seconds=gap_s)
    return clip.started_at - gap, clip.ended_at + gap


def regroup(events: Iterable[Event], clip: EventClip, gap_s: float) -> tuple[Event, list[Event]]:
    """``clip`` placed among its device's ``events`` (those near it; others are ignored):
    (the event it is in now, the events merged into that one)."""
    joined = sorted(
        (e for e in events if e.device_id == clip.device_id and chains(e, clip, gap_s)),
        key=lambda e: (e.started_at, e.event_id),
    )
    if not joined:
        return make_event(event_id_for(clip.clip_id), clip.device_id, [clip]), []
    keeper, merged = joined[0], joined[1:]
    clips = {c.clip_id: c for e in joined for c in e.clips}
    clips[clip.clip_id] = clip  # a clip noted again (a retried completion) replaces itself
    claims = set().union(*(e.claims for e in joined))
    return make_event(keeper.event_id, keeper.device_id, clips.values(), claims), merged
