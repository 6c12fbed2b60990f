"""Summaries of simulated runs: a rich table for people, JSON for machines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterable

import numpy as np
from rich.console import Console
from rich.table import Table

from .billing import cost
from .outcome import Outcome


def summarise(outcome: Outcome, hourly_price: float) -> dict:
    """p50/p95/max latency (s), billed instance-seconds, cost, launches and the most
    workers (Lambda: execution environments) up at once of one run."""
    latencies = outcome.latencies
    finished = latencies[~np.isnan(latencies)]
    p50, p95, top = np.percentile(finished, [50, 95, 100]) if finished.size else (np.nan,) * 3
    seconds = float(outcome.worker_seconds.sum())
    return {
        "p50_s": round(float(p50), 3),
        "p95_s": round(float(p95), 3),
        "max_s": round(float(top), 3),
        "mean_s": round(float(finished.mean()), 3) if finished.size else float("nan"),
        "instance_seconds": round(seconds, 1),
        "cost_usd": round(cost(seconds, hourly_price) if outcome.cost_usd is None else outcome.cost_usd, 4),
        "launches": outcome.launches,
        "peak_workers": int(np.max(outcome.timeline.get("workers", [0]), initial=0)),
        "unfinished": int(latencies.size - finished.size),
    }


def to_json(summaries: dict[str, dict], clips: int, wall_s: float, **extra) -> dict:
    return {"policies": summaries, "clips": clips, "wall_s": round(wall_s, 3), **extra}


def write_json(path: str | Path, document: dict) -> None:
    Path(path).write_text(json.dumps(document, indent=2, allow_nan=False, default=str) + "\n")


def table(summaries: dict[str, dict], title: str) -> Table:
    """One row per policy; the best latency and the cheapest run are bold."""
    grid = Table(title=title)
    for header in ("policy", "p50 s", "p95 s", "max s", "instance-s", "cost $", "launches", "peak"):
        grid.add_column(header, justify="left" if header == "policy" else "right", no_wrap=True)
    best_p95 = min(s["p95_s"] for s in summaries.values())
    cheapest = min(s["instance_seconds"] for s in summaries.values())
    for name, s in summaries.items():
        p95 = f"{s['p95_s']:.2f}"
        seconds = f"{s['instance_seconds']:.0f}"
        grid.add_row(
            name + (f" ({s['unfinished']} unfinished)" if s["unfinished"] else ""),
            f"{s['p50_s']:.2f}",
            f"[bold]{p95}[/]" if s["p95_s"] == best_p95 else p95,
            f"{s['max_s']:.2f}",
            f"[bold]{seconds}[/]" if s["instance_seconds"] == cheapest else seconds,
            f"{s['cost_usd']:.4f}",
            str(s["launches"]),
            str(s["peak_workers"]),
        )
    return grid


def print_table(
    summaries: dict[str, dict], title: str, console: Console | None = None, notes: Iterable[str] = ()
) -> None:
    if console is None:
        console = Console()
        if not console.is_terminal:  # piped or captured: room for every column
            console = Console(width=max(console.width, 100))
    console.print(table(summaries, title))
    for note in notes:
        console.print(note, style="dim")
