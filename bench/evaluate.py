"""``edgecloud eval``: the thesis's accuracy / speed / bytes trade-off, measured in one run.

For every model and every preprocessing (resize %, JPEG quality) it times the
detector per frame, counts the bytes the frame would take to send, and scores
its boxes against a reference (precision, recall, F1 at IoU 0.5). The
reference is, with ``--labels`` alone, the hand-made ground truth in
``groundtruth/`` (see :mod:`.groundtruth`); with ``--labels FILE``, that file;
else the largest model given (most parameters) on the untouched frames, or a
model named with ``--reference``. A torchvision model without trained
weights on this machine is reported as "no weights offline", not scored. Writes
``eval.csv`` and ``eval.png`` (F1 against ms per frame).
"""

from __future__ import annotations

import csv
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import SimpleNamespace

import click
import cv2
import numpy as np
from rich.table import Table

from edgecloud.context import Context, pass_context
from edgecloud.detect import DetectorUnavailable, create_detector

from .footage import DEFAULT_FOOTAGE
from .groundtruth import GROUND_TRUTH, is_ground_truth, load_ground_truth
from .metrics import Tally, match_frame
from .models import detector_or_random, wide_console


@dataclass
class Row:
    model: str
    weights: str
    resize_pct: int
    jpeg_quality: int  # 0: not re-encoded
    bytes_per_frame: float
    bytes_saved_pct: float
    ms_per_frame: float
    detections: int
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float


def read_frames(videos: list[Path], count: int) -> list[np.ndarray]:
    """``count`` frames spread evenly over the videos."""
    frames = []
    for video in videos:
        capture = cv2.VideoCapture(str(video))
        while True:
            ok, image = capture.read()
            if not ok:
                break
            frames.append(image)
        capture.release()
    if not frames:
        raise click.ClickException(f"no frames could be read from {', '.join(map(str, videos))}")
    picks = np.linspace(0, len(frames) - 1, min(count, len(frames))).round().astype(int)
    return [frames[i] for i in picks]


def preprocess(image: np.ndarray, resize_pct: int, quality: int) -> tuple[np.ndarray, int]:
    """The frame as it would arrive: resized, JPEG round-tripped at ``quality`` (0: lossless PNG); and its bytes."""
    if resize_pct != 100:
        h, w = image.shape[:2]
        image = cv2.resize(
            image, (round(w * resize_pct / 100), round(h * resize_pct / 100)), interpolation=cv2.INTER_AREA
        )
    if quality:
        ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
        return cv2.imdecode(data, cv2.IMREAD_COLOR), len(data)
    ok, data = cv2.imencode(".png", image)
    return image, len(data)


def detect_scaled(detector, image: np.ndarray, resize_pct: int) -> list:
    """Detections on a resized frame, with boxes back in the original frame's pixels."""
    factor = 100 / resize_pct
    return [
        SimpleNamespace(label=b.label, score=b.score, box=tuple(v * factor for v in b.box))
        for b in detector.detect([image])[0]
    ]


def load_labels(path: Path, frames: int) -> list[list]:
    data = json.loads(path.read_text())
    if len(data) != frames:
        raise click.ClickException(f"{path} has labels for {len(data)} frames; this run has {frames}")
    return [
        [SimpleNamespace(label=d["label"], score=d.get("score", 1.0), box=tuple(d["box"])) for d in f] for f in data
    ]


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


NO_WEIGHTS = "no weights offline"


def default_models() -> list[str]:
    """What ``--labels`` compares when no --model is given: HOG, YOLOv3-tiny and the torchvision models."""
    from edgecloud.detect.torchvision_models import MODELS

    return ["hog", "darknet:yolov3-tiny"] + [f"torchvision:{m}" for m in MODELS]


def trained_or_none(settings, console):
    """The detector with trained weights, or None (said once) when a torchvision model has none offline."""
    try:
        return create_detector(settings)
    except DetectorUnavailable as err:
        if not settings.name.startswith("torchvision:"):
            raise click.ClickException(str(err)) from None
        console.print(f"[yellow]{settings.name}: {NO_WEIGHTS} ({str(err).split('. ')[0]})[/]")
        return None


@click.command("evaluate")
@click.option(
    "--model",
    "models",
    multiple=True,
    help="Detector name (repeatable; with --labels, default: hog, darknet:yolov3-tiny and every torchvision model).",
)
@click.option(
    "--resize",
    "resizes",
    multiple=True,
    type=click.IntRange(5, 100),
    default=(100,),
    show_default=True,
    help="Resize to this % before detecting (repeatable).",
)
@click.option(
    "--quality",
    "qualities",
    multiple=True,
    type=click.IntRange(0, 100),
    default=(0,),
    show_default=True,
    help="JPEG quality to round-trip through; 0 keeps frames lossless (repeatable).",
)
@click.option(
    "--video",
    "videos",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help=f"Footage (repeatable; default {DEFAULT_FOOTAGE}).",
)
@click.option("--frames", "frame_count", default=24, show_default=True, help="Frames spread evenly over the footage.")
@click.option("--reference", help="Reference model (default: the largest model given, on untouched frames).")
@click.option(
    "--labels",
    "labels_path",
    is_flag=False,
    flag_value=str(GROUND_TRUTH),
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Score against labels instead of a model: alone, the hand-made ground truth shipped in "
    "bench/groundtruth/ (12 vtest.avi frames + 5 photos); or a FILE of that form, or a JSON list "
    "per frame of {label, box}.",
)
@click.option("--out", "out_dir", default=Path("var/eval"), show_default=True, type=click.Path(path_type=Path))
@pass_context
def evaluate(obj: Context, models, resizes, qualities, videos, frame_count, reference, labels_path, out_dir):
    """Accuracy (F1 vs ground truth or a reference), ms per frame and bytes saved, per model and preprocessing."""
    console = wide_console()
    base = obj.settings.detector
    videos = list(videos) or [DEFAULT_FOOTAGE]
    if not models and not labels_path:
        raise click.ClickException("name at least one --model (or use --labels for the default comparison)")
    models = list(models) or default_models()
    if labels_path and is_ground_truth(labels_path):
        frames, truth, _ = load_ground_truth(labels_path, videos)
        reference = f"ground truth {labels_path.name}"
    else:
        frames = read_frames(videos, frame_count)
    detectors = {
        name: trained_or_none(base.model_copy(update={"name": name}), console)
        if labels_path
        else detector_or_random(base.model_copy(update={"name": name}), console)
        for name in models
    }
    if labels_path and not is_ground_truth(labels_path):
        truth, reference = load_labels(labels_path, len(frames)), f"labels in {labels_path.name}"
    elif not labels_path:
        if reference and reference not in detectors:
            detectors[reference] = detector_or_random(base.model_copy(update={"name": reference}), console)
        reference = reference or max(models, key=lambda n: detectors[n].backend.parameters)
        truth = [detect_scaled(detectors[reference], f, 100) for f in frames]
    console.print(f"{len(frames)} frames; reference: {reference}")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "reference.json").write_text(
        json.dumps(
            [[{"label": d.label, "score": d.score, "box": [round(v, 1) for v in d.box]} for d in f] for f in truth]
        )
    )
    baseline = np.mean([preprocess(f, 100, 0)[1] for f in frames])
    rows = []
    for name in models:
        detector = detectors[name]
        if detector is None:
            rows.append(Row(name, NO_WEIGHTS, 100, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0))
            continue
        warm_shape = None
        for pct in resizes:
            for quality in qualities:
                tally, sizes, spent, count = Tally(), [], 0.0, 0
                for image, ref in zip(frames, truth):
                    small, size = preprocess(image, pct, quality)
                    sizes.append(size)
                    if small.shape != warm_shape:  # untimed: a cv2.dnn net reallocates for a new frame
                        detector.detect([small])  # size, which one camera's frames never change
                        warm_shape = small.shape
                    start = time.perf_counter()
                    found = detect_scaled(detector, small, pct)
                    spent += time.perf_counter() - start
                    count += len(found)
                    tally.add(match_frame(found, ref))
                row = Row(
                    name,
                    "random" if detector.random_weights else "trained",
                    pct,
                    quality,
                    round(float(np.mean(sizes))),
                    round(100 * (1 - np.mean(sizes) / baseline), 1),
                    round(1000 * spent / len(frames), 2),
                    count,
                    tally.tp,
                    tally.fp,
                    tally.fn,
                    round(tally.precision, 3),
                    round(tally.recall, 3),
                    round(tally.f1, 3),
                )
                rows.append(row)
                console.print(
                    f"  {name} {pct}% q{quality}: F1 {row.f1} at {row.ms_per_frame} ms, "
                    f"{row.bytes_saved_pct}% bytes saved"
                )
    scored = [r for r in rows if r.weights != NO_WEIGHTS]
    csv_path, png_path = out_dir / "eval.csv", out_dir / "eval.png"
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(asdict(rows[0])))
        writer.writeheader()
        writer.writerows(asdict(r) for r in rows)
    if scored:
        chart(scored, png_path, reference)
    table = Table(title=f"eval against {reference} ({len(frames)} frames; bytes saved vs lossless PNG)")
    for column in ("model", "resize", "quality", "KB/frame", "saved", "ms/frame", "P", "R", "F1"):
        table.add_column(column, justify="right")
    for r in rows:
        if r.weights == NO_WEIGHTS:
            table.add_row(r.model, "", "", "", "", NO_WEIGHTS, "-", "-", "-")
            continue
        table.add_row(
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
    console.print(table)
    console.print(f"wrote {csv_path}, {png_path}, {out_dir / 'reference.json'}")
