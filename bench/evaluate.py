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

This is the command: which models, frames and reference. The measure is
:mod:`.eval_scoring`, the report :mod:`.eval_report`.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import click
import cv2
import numpy as np

from edgecloud.context import Context, pass_context
from edgecloud.detect import DetectorUnavailable, create_detector

from .eval_report import chart, table, write_csv
from .eval_scoring import NO_WEIGHTS, Row, detect_scaled, preprocess, score
from .footage import DEFAULT_FOOTAGE
from .groundtruth import GROUND_TRUTH, is_ground_truth, load_ground_truth
from .models import detector_or_random, wide_console


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


def load_labels(path: Path, frames: int) -> list[list]:
    data = json.loads(path.read_text())
    if len(data) != frames:
        raise click.ClickException(f"{path} has labels for {len(data)} frames; this run has {frames}")
    return [
        [SimpleNamespace(label=d["label"], score=d.get("score", 1.0), box=tuple(d["box"])) for d in f] for f in data
    ]


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
        if detectors[name] is None:
            rows.append(Row.unscored(name))
            continue
        for row in score(name, detectors[name], frames, truth, resizes, qualities, baseline):
            rows.append(row)
            console.print(
                f"  {name} {row.resize_pct}% q{row.jpeg_quality}: F1 {row.f1} at {row.ms_per_frame} ms, "
                f"{row.bytes_saved_pct}% bytes saved"
            )
    scored = [r for r in rows if r.weights != NO_WEIGHTS]
    csv_path, png_path = out_dir / "eval.csv", out_dir / "eval.png"
    write_csv(rows, csv_path)
    if scored:
        chart(scored, png_path, reference)
    console.print(table(rows, reference, len(frames)))
    console.print(f"wrote {csv_path}, {png_path}, {out_dir / 'reference.json'}")
