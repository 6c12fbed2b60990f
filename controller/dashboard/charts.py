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

    parts = [f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="latency over the last hour">',
             f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
             f'<line x1="{PAD}" y1="{PAD}" x2="{PAD}" y2="{HEIGHT - PAD}" class="axis"/>',
             f'<text x="{PAD - 4}" y="{PAD + 4}" text-anchor="end">{top:.1f}s</text>',
             f'<text x="{PAD - 4}" y="{HEIGHT - PAD}" text-anchor="end">0</text>',
             f'<text x="{PAD}" y="{HEIGHT - 8}">{start:%H:%M}</text>',
             f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">{now:%H:%M} UTC</text>']
    cloud = [(x(t), y(s)) for t, s, edge in points if not edge]
    if len(cloud) > 1:
        parts.append('<polyline class="line" points="' + " ".join(f"{a:.1f},{b:.1f}" for a, b in cloud) + '"/>')
    for when, seconds, edge in points:
        parts.append(f'<circle cx="{x(when):.1f}" cy="{y(seconds):.1f}" r="3" class="{"edge" if edge else "cloud"}">'
                     f'<title>{escape(f"{when:%H:%M:%S} {seconds:.2f} s")}</title></circle>')
    if not points:
        parts.append(f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">no clips finished in this hour</text>')
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
            parts.append(f'<rect x="{PAD + 40 + plot_w * t / duration:.1f}" y="{top}" width="3" height="{row - 6}" '
                         f'class="tick"><title>{t:.1f} s</title></rect>')
    parts.append(f'<text x="{PAD + 40}" y="{height - 4}">0 s</text>'
                 f'<text x="{WIDTH - PAD}" y="{height - 4}" text-anchor="end">{duration:.1f} s</text></svg>')
    return Markup("".join(parts))
