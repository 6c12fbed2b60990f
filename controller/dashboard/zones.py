"""A device's zones drawn over its latest snapshot: one inline SVG, drawn on the server.

Zones are polygons in 0-1 coordinates of the frame (``settings.zones``, edgecloud/scene_settings.py);
the SVG's coordinates are the snapshot's pixels, so the picture and the zones scale together and the
names are not stretched. Colours come from CSS classes: the CSP allows no inline style.
"""

from __future__ import annotations

import io
from typing import Optional, Sequence

from markupsafe import Markup, escape
from PIL import Image

BLANK = (1280, 720)  # the frame drawn when the device has sent no snapshot yet
COLOURS = 6  # zone-0 .. zone-5 in dashboard.css


def picture_size(jpeg: bytes) -> Optional[tuple[int, int]]:
    """(width, height) of a JPEG, read from its header: Pillow opens lazily, so no pixel is decoded
    (each view of a device page asks). None when the header is not a JPEG's or is cut short."""
    try:
        with Image.open(io.BytesIO(jpeg), formats=["JPEG"]) as image:
            return image.size
    except (OSError, Image.DecompressionBombError):  # OSError: not a JPEG (UnidentifiedImageError), cut short
        return None


def zones_over(
    zones: dict[str, Sequence[tuple[float, float]]], snapshot: Optional[str], size: Optional[tuple[int, int]]
) -> Markup:
    """The SVG: the snapshot at ``snapshot`` (an address; None: a blank frame) and each zone on it."""
    w, h = size or BLANK
    parts = [
        f'<svg class="zones" id="device-zones" viewBox="0 0 {w} {h}" role="img" '
        f'aria-label="zones over the latest snapshot">'
    ]
    if snapshot:
        parts.append(f'<image href="{escape(snapshot)}" x="0" y="0" width="{w}" height="{h}"/>')
    else:
        parts.append(
            f'<rect class="blank" width="{w}" height="{h}"/>'
            f'<text x="{w / 2}" y="{h / 2}" text-anchor="middle" class="note">no snapshot yet</text>'
        )
    font = max(12, round(h / 24))
    for n, (name, points) in enumerate(sorted(zones.items())):
        xy = [(x * w, y * h) for x, y in points]
        parts.append(
            f'<g class="zone zone-{n % COLOURS}" data-zone="{escape(name)}">'
            '<polygon points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in xy) + '"/>'
        )
        left, top = min(xy, key=lambda p: (p[1], p[0]))  # the name at the zone's top corner, inside the frame
        left = min(left, w - font * 0.6 * len(name))
        parts.append(
            f'<text x="{max(0.0, left) + 4:.1f}" y="{min(top + font + 2, h - 4):.1f}" '
            f'font-size="{font}">{escape(name)}</text></g>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
