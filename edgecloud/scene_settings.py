"""The ``zones:`` and ``events:`` settings sections: the places in each camera's view that matter, and how
clips group into the events a person reviews.

Imported into ``edgecloud.settings``, which gathers every section.
"""

from __future__ import annotations

from pydantic import Field, field_validator

from .protocol.ids import check_device_id
from .sections import Section

Point = tuple[float, float]


class ZoneSettings(Section):
    devices: dict[str, dict[str, list[Point]]] = Field(
        default_factory=dict,
        description="Per device id, its zones: NAME: [[x, y], ...], a polygon of at least "
        "3 points in 0-1 coordinates of the frame (0,0 top left). An object is in a zone when its box's "
        "bottom centre (where it stands) is inside.",
    )

    @field_validator("devices")
    @classmethod
    def _polygons(cls, devices: dict[str, dict[str, list[Point]]]) -> dict[str, dict[str, list[Point]]]:
        for device, zones in devices.items():
            check_device_id(device)
            for name, points in zones.items():
                if not name or len(name) > 64:
                    raise ValueError(f"{device}: a zone's name is 1 to 64 characters, got {name!r}")
                if len(points) < 3:
                    raise ValueError(f"{device}.{name}: a zone needs at least 3 points, got {len(points)}")
                if any(not (0 <= c <= 1) for point in points for c in point):
                    raise ValueError(f"{device}.{name}: zone points are 0-1 fractions of the frame")
        return devices

    def of(self, device_id: str) -> dict[str, list[Point]]:
        """The zones of ``device_id`` (none when it has none)."""
        return self.devices.get(device_id, {})


class EventSettings(Section):
    gap_s: float = Field(
        30,
        gt=0,
        le=86400,
        description="Clips of one device with tracked objects, each starting "
        "less than this after the last one ended, form one event (a person lingering re-triggers "
        "the PIR): reviewed together, notified once.",
    )


def unknown_rule_zones(settings) -> list[str]:
    """Zones a notification rule names that none of its devices (any device, for a rule of all) has:
    a typo that would silence the rule for good."""
    wrong = []
    for n, rule in enumerate(settings.notify.rules):
        devices = rule.devices or list(settings.zones.devices)
        known = {zone for device in devices for zone in settings.zones.of(device)}
        wrong += [
            f"notify.rules.{n}.zones: no zone {zone!r} in zones: of {', '.join(devices) or 'any device'}"
            for zone in rule.zones
            if zone not in known
        ]
    return wrong


__all__ = ["EventSettings", "ZoneSettings", "unknown_rule_zones"]
