"""``edgecloud eval``'s report: ``eval.csv``, ``eval.png`` (F1 against ms per frame) and the table on screen.

Apart from the measure (:mod:`.eval_scoring`) and the command (:mod:`.evaluate`): these only show
rows already scored.
"""

from __future__ import annotations

import csv
from dataclasses import asdict
from pathlib import Path

from rich.table import Table

from .eval_scoring import NO_WEIGHTS, Row


def write_csv(rows: list[Row], path: Path) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)


def chart(rows: list[Row], path: Path, reference: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, ax = plt.subplots(figsize=(13, 6))
    for model in dict.fromkeys(r.model for r in rows):
        mine = [r for r in rows if r.model == model]
        label = model + (" (random weights)" if mine[0].weights == "random" else "")
        ax.plot([r.ms_per_frame for r in mine], [r.f1 for r in mine], "o", label=label)
        for r in mine:
            ax.annotate(
                f"{r.resize_pct}% " + (f"q{r.jpeg_quality}" if r.jpeg_quality else "png"),
                (r.ms_per_frame, r.f1),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
    ax.set_xscale("log")
    for axis in (ax.xaxis.set_major_formatter, ax.xaxis.set_minor_formatter):
        axis(matplotlib.ticker.FormatStrFormatter("%g"))
    ax.set_xlabel("ms per frame (detector, this machine)")
    ax.set_ylabel(f"F1 at IoU 0.5 against {reference}")
    ax.set_ylim(-0.02, 1.02)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title("Detector accuracy against speed, by preprocessing (resize %, JPEG quality)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def table(rows: list[Row], reference: str, frames: int) -> Table:
    shown = Table(title=f"eval against {reference} ({frames} frames; bytes saved vs lossless PNG)")
    for column in ("model", "resize", "quality", "KB/frame", "saved", "ms/frame", "P", "R", "F1"):
        shown.add_column(column, justify="right")
    for r in rows:
        if r.weights == NO_WEIGHTS:
            shown.add_row(r.model, "", "", "", "", NO_WEIGHTS, "-", "-", "-")
            continue
        shown.add_row(
            r.model + (" (random)" if r.weights == "random" else ""),
            f"{r.resize_pct}%",
            str(r.jpeg_quality or "png"),
            f"{r.bytes_per_frame / 1024:.0f}",
            f"{r.bytes_saved_pct}%",
            f"{r.ms_per_frame:.1f}",
            f"{r.precision:.2f}",
            f"{r.recall:.2f}",
            f"{r.f1:.2f}",
        )
    return shown
