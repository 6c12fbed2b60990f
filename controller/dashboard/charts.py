"""Small inline SVG charts drawn on the server: no chart library in the browser."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Sequence

from markupsafe import Markup, escape

WIDTH, HEIGHT, PAD = 600, 180, 32


def latency_chart(points: Sequence[tuple[datetime, float, bool]], now: datetime, span: timedelta) -> Markup:
    """Latency (s) of each clip finished in the last ``span`` as dots on a time axis;
    points are (finished at, seconds, processed on the edge)."""
    start = now - span
    top = max((s for _, s, _ in points), default=1.0) or 1.0
    plot_w, plot_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def x(when: datetime) -> float:
        return PAD + plot_w * max(0.0, (when - start) / span)

    def y(seconds: float) -> float:
        return PAD + plot_h * (1 - seconds / top)

    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="latency over the last hour">',
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
        f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
        f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end">{top:.1f}s</text>',
        f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end">0</text>',
        f'<text x="{PAD}" y="{HEIGHT - 8}">{start:%H:%M}</text>',
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">{now:%H:%M} UTC</text>',
    ]
    cloud = [(x(t), y(s)) for t, s, edge in points if not edge]
    if len(cloud) > 1:
        parts.append('<polyline class="line" points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in cloud) + '"/>')
    for when, seconds, edge in points:
        parts.append(
            f'<circle cx="{x(when):.1f}" cy="{y(seconds):.1f}" r="3" class="{"edge" if edge else "cloud"}">'
            f"<title>{escape(f'{when:%H:%M:%S} {seconds:.2f} s')}</title></circle>"
        )
    if not points:
        parts.append(
            f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no clips finished in this hour</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def timeline(detections: Sequence[dict], duration: float) -> Markup:
    """One row per label, a tick at each second something was seen."""
    labels = sorted({d["label"] for d in detections})
    row = 22
    height = PAD + row * max(1, len(labels))
    duration = max(duration, max((d["t"] for d in detections), default=0.0), 1.0)
    plot_w = WIDTH - 2 * PAD - 40
    parts = [f'<svg class="chart timeline" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="timeline">']
    for n, label in enumerate(labels):
        top = 8 + n * row
        parts.append(f'<text x="4" y="{top + 14}">{escape(label)}</text>')
        for t in sorted({d["t"] for d in detections if d["label"] == label}):
            parts.append(
                f'<rect x="{PAD + 40 + plot_w * t / duration:.1f}" y="{top}" width="3" height="{row - 6}" '
                f'class="tick"><title>{t:.1f} s</title></rect>'
            )
    parts.append(
        f'<text x="{PAD + 40}" y="{height - 4}">0 s</text>'
        f'<text x="{WIDTH - PAD}" y="{height - 4}" text-anchor="end">{duration:.1f} s</text></svg>'
    )
    return Markup("".join(parts))


def objects_timeline(objects: Sequence[dict], duration: float) -> Markup:
    """One row per tracked object (label and track id), a bar from when it was first seen to when it
    was last seen; the playhead line follows the clip's video (dashboard.js) across the plot."""
    row, left = 22, PAD + 70
    height = PAD + row * max(1, len(objects))
    duration = max(duration, max((o["last_seen_s"] for o in objects), default=0.0), 1.0)
    plot_w = WIDTH - PAD - left
    parts = [
        f'<svg class="chart timeline objects" viewBox="0 0 {WIDTH} {height}" role="img" aria-label="objects '
        f'seen" data-x0="{left}" data-width="{plot_w}" data-duration="{duration:.3f}">'
    ]
    for n, o in enumerate(objects):
        top = 6 + n * row
        x1, x2 = (left + plot_w * o[k] / duration for k in ("first_seen_s", "last_seen_s"))
        seen = (
            f"{o['label']} #{o['track_id']}: {o['first_seen_s']:.1f}–{o['last_seen_s']:.1f} s, "
            f"best {o['best_score']:.2f}" + (f", in {', '.join(o['zones'])}" if o["zones"] else "")
        )
        parts.append(
            f'<text x="4" y="{top + 14}">{escape(o["label"])} #{o["track_id"]}</text>'
            f'<rect x="{x1:.1f}" y="{top}" width="{max(3.0, x2 - x1):.1f}" height="{row - 6}" '
            f'class="tick{" stationary" if o.get("stationary") else ""}"><title>{escape(seen)}</title></rect>'
        )
    if not objects:
        parts.append(f'<text x="{left}" y="{PAD - 14}">no tracked objects in this clip</text>')
    parts.append(
        f'<line class="playhead" x1="{left}" x2="{left}" y1="0" y2="{height - PAD + 8}"/>'
        f'<text x="{left}" y="{height - 4}">0 s</text>'
        f'<text x="{WIDTH - PAD}" y="{height - 4}" text-anchor="end">{duration:.1f} s</text></svg>'
    )
    return Markup("".join(parts))
