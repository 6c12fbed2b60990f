"""Charts of simulated runs: queue depth, workers and latency over time per policy."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from .outcome import Outcome

MAX_POINTS = 2000  # per line; a million clips would otherwise draw for minutes
STYLES = ("-", "--", "-.", ":")  # policies that behave alike still show apart


def _thin(*columns: np.ndarray) -> list[np.ndarray]:
    step = max(1, len(columns[0]) // MAX_POINTS)
    return [c[::step] for c in columns]


def _latency_over_time(outcome: Outcome) -> tuple[np.ndarray, np.ndarray]:
    """Latency of clips by when they finished: each clip when few, else the
    p95 of each of ~MAX_POINTS time bins."""
    done = ~np.isnan(outcome.finished)
    order = np.argsort(outcome.finished[done], kind="stable")
    finished, latency = outcome.finished[done][order], outcome.latencies[done][order]
    if finished.size <= MAX_POINTS:
        return finished, latency
    edges = np.linspace(finished[0], finished[-1] + 1e-9, MAX_POINTS + 1)
    which = np.digitize(finished, edges) - 1
    cuts = np.flatnonzero(np.diff(which)) + 1
    groups = np.split(latency, cuts)
    return edges[which[np.r_[0, cuts]]], np.array([np.percentile(g, 95) for g in groups])


def plot(outcomes: Sequence[Outcome], path: str | Path, title: str = "") -> Path:
    """Three stacked panels sharing the time axis; one line per policy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (queue, workers, latency) = plt.subplots(3, 1, sharex=True, figsize=(10, 9))
    for number, outcome in enumerate(outcomes):
        style = {"linestyle": STYLES[number % len(STYLES)]}
        t, visible, in_flight, fleet = _thin(*(outcome.timeline[k] for k in ("t", "visible", "in_flight", "workers")))
        queue.plot(t, visible + in_flight, label=outcome.policy, drawstyle="steps-post", **style)
        workers.plot(t, fleet, label=outcome.policy, drawstyle="steps-post", **style)
        when, late = _latency_over_time(outcome)
        latency.plot(when, late, label=outcome.policy, marker=".", markersize=3, **style)
    queue.set_ylabel("clips queued + in flight")
    workers.set_ylabel("workers (booting + up)")
    latency.set_ylabel("latency, s (p95 per bin when many)")
    latency.set_xlabel("simulated time, s")
    queue.legend(loc="upper right")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
