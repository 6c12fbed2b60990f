"""Detectors for the benchmarks: the one asked for, or honestly the same model with random weights."""

from __future__ import annotations

import sys

import click
from rich.console import Console

from edgecloud.config import DetectorSettings
from edgecloud.detect import Detector, DetectorUnavailable, create_detector


def detector_or_random(settings: DetectorSettings, console: Console) -> Detector:
    """The configured detector; a torchvision model without its trained weights (offline) gets random ones, loudly."""
    try:
        return create_detector(settings)
    except DetectorUnavailable as err:
        if not settings.name.startswith("torchvision:") or not settings.pretrained:
            raise click.ClickException(str(err)) from None
        console.print(
            f"[yellow]{err}[/]\n[bold yellow]{settings.name}: using RANDOM weights. Timings are real; "
            "its labels are meaningless and agreement only compares it with itself.[/]"
        )
        return create_detector(settings.model_copy(update={"pretrained": False}))


def wide_console() -> Console:
    """Rich console; piped to a file it is wide enough that tables keep model names whole."""
    return Console() if sys.stdout.isatty() else Console(width=160)


def naive_twin(detector: Detector, settings: DetectorSettings, console: Console) -> Detector:
    """A second instance of the same trained model for the naive run (``run_bench`` says why); a model
    built with random weights is shared instead, so both runs see the same weights."""
    return detector if detector.random_weights else detector_or_random(settings, console)
