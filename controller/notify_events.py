"""What notifications know of events and zones: a rule's zones, and the once-per-event claim."""

from __future__ import annotations

import hashlib
from typing import Callable, Optional, Union

from edgecloud.config import NotifyRule
from edgecloud.protocol.messages import Result

from .event_store import EventStore
from .events import Event, EventClip


def in_zones(rule: NotifyRule, result: Result) -> dict[str, int]:
    """Per label, the tracked objects of ``result`` the rule wants (label, score) inside any of its zones."""
    found: dict[str, int] = {}
    for obj in result.objects:
        if (
            (not rule.labels or obj.label in rule.labels)
            and obj.best_score >= rule.min_score
            and set(obj.zones) & set(rule.zones)
        ):
            found[obj.label] = found.get(obj.label, 0) + 1
    return found


def rule_mark(rule: NotifyRule) -> str:
    """A rule's name in an event's claims: what it says, so reordering the rules changes nothing."""
    return "notify:" + hashlib.sha256(rule.model_dump_json().encode()).hexdigest()[:16]


class EventGate:
    """Lets a rule alert once per event: the first controller to claim the event for the rule does."""

    def __init__(self, events: Union[EventStore, Callable[[], Optional[EventStore]], None]):
        self._events = events

    @property
    def store(self) -> Optional[EventStore]:
        return self._events() if callable(self._events) else self._events  # a store is not callable

    def of(self, clip: Optional[EventClip]) -> Optional[Event]:
        """The clip's event (placed when its result was stored); None: no objects, or no events kept."""
        store = self.store
        return store.event_of(clip) if store is not None and clip is not None else None

    def claim(self, event: Optional[Event], rule: NotifyRule) -> bool:
        """True if the rule may alert: no event (per clip), or this is the event's first alert by the rule."""
        return event is None or self.store.claim(event.event_id, rule_mark(rule))
