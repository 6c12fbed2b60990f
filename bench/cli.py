"""``edgecloud bench``: benchmarks that measure side by side in one run and report ratios."""

from __future__ import annotations

import importlib
import json
import tempfile
from pathlib import Path

import click
from rich.table import Table

from edgecloud.context import Context, pass_context

from .counting import counts_within, same_labels
from .detect import run_bench
from .detect_report import print_detect_report
from .footage import DEFAULT_FOOTAGE, cut_clips
from .groundtruth import people_counted
from .models import detector_or_random, naive_twin, wide_console
from .sampling import Bars as SamplingBars
from .sampling import measure_clip
from .sampling import report as sampling_report


class BenchGroup(click.Group):
    """Subcommands defined here, plus others imported only when called (their dependencies stay optional)."""

    lazy = {
        "load": ("edgecloud.bench.load:load", "N Pis upload a clip at once; round-trip latency vs the seed."),
        "faults": ("edgecloud.bench.faults:faults", "Each fault against the real processes; nothing lost."),
        "upload": ("edgecloud.bench.upload:upload", "N Pis upload while as many hold long-polls; vs S3 alone."),
    }

    def list_commands(self, ctx):
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx, name):
        if name in self.lazy and name not in self.commands:
            module, attr = self.lazy[name][0].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    def format_commands(self, ctx, formatter):
        rows = [(n, c.get_short_help_str()) for n, c in sorted(self.commands.items())]
        rows += [(n, help_) for n, (_, help_) in self.lazy.items() if n not in self.commands]
        with formatter.section("Commands"):
            formatter.write_dl(sorted(rows))


def footage(videos) -> list[Path]:
    """The videos asked for, or the default footage; a clear error when one is missing."""
    videos = list(videos) or [DEFAULT_FOOTAGE]
    for video in videos:
        if not video.is_file():
            raise click.ClickException(f"footage not found: {video} (pass --video PATH)")
    return videos


def footage_options(command):
    """The options both detection benchmarks take: which footage, which detector, how it is cut."""
    for option in reversed(
        (
            click.option(
                "--video",
                "videos",
                multiple=True,
                type=click.Path(exists=True, dir_okay=False, path_type=Path),
                help=f"Footage to cut into clips (repeatable; default {DEFAULT_FOOTAGE}).",
            ),
            click.option("--detector", "detector_name", help="Detector to use (default: detector.name from config)."),
            click.option("--clip-seconds", default=5.0, show_default=True, help="Length of each clip."),
            click.option("--limit-clips", type=int, help="Only the first N clips (quick runs)."),
        )
    ):
        command = option(command)
    return command


def detector_settings(obj: Context, detector_name: str | None):
    """The configured detector settings, with ``--detector`` in place of ``detector.name`` when given."""
    settings = obj.settings.detector
    return settings.model_copy(update={"name": detector_name}) if detector_name else settings


def save_json(console, json_path: Path | None, figures: dict) -> None:
    """Write a benchmark's figures where ``--json`` says, if it says."""
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(figures, indent=2))
        console.print(f"wrote {json_path}")


@click.group("bench", cls=BenchGroup)
def bench():
    """Benchmarks, each measured side by side in one run."""


@bench.command("detect")
@footage_options
@click.option("--min-score", type=click.FloatRange(0, 1), help="Override detector.min_score.")
@click.option("--no-naive", is_flag=True, help="Skip the naive run (slow with big models).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
@pass_context
def detect(obj: Context, videos, detector_name, clip_seconds, limit_clips, min_score, no_naive, json_path):
    """Clip pipeline vs naive (every frame, full size, one at a time) vs decode alone."""
    console = wide_console()
    settings = detector_settings(obj, detector_name)
    if min_score is not None:
        settings = settings.model_copy(update={"min_score": min_score})
    videos = footage(videos)
    detector = detector_or_random(settings, console)
    with tempfile.TemporaryDirectory(prefix="edgecloud-bench-") as tmp:
        clips = cut_clips(videos, clip_seconds, Path(tmp), limit_clips)
        console.print(
            f"{len(clips)} clips of {clip_seconds:g} s from {', '.join(v.name for v in videos)}; detector {detector!r}"
        )
        result = run_bench(
            clips,
            detector,
            settings,
            naive_detector=None if no_naive else naive_twin(detector, settings, console),
            progress=lambda r: console.print(
                f"  {r.clip}: naive peak {r.naive_peak}, tracked every frame "
                f"{r.phases[0].reference if r.phases else '-'}, pipeline {r.tracked} "
                f"(phases agreeing on labels {sum(same_labels(p.reference, p.sampled) for p in r.phases)}"
                f"/{len(r.phases)}, counts {sum(counts_within(p.reference, p.sampled) for p in r.phases)}"
                f"/{len(r.phases)}; {r.frames_analysed}/{r.frames_total} frames) "
                + " ".join(f"{k} {v:.2f}s" for k, v in r.seconds.items())
            ),
            hand_counts=people_counted(clip_seconds),
        )
    report = result.report()
    print_detect_report(console, report, result.random_weights)
    save_json(console, json_path, report)


@bench.command("sampling")
@footage_options
@click.option(
    "--step",
    "steps",
    multiple=True,
    type=click.IntRange(1, 100),
    default=(1, 2, 3, 4, 5, 6, 7, 8, 10),
    show_default=True,
    help="Keep every STEP-th frame (repeatable).",
)
@click.option("--speedup-bar", default=5.0, show_default=True, help="The speed a row must reach.")
@click.option(
    "--agreement-bar",
    type=click.FloatRange(0, 1),
    default=0.95,
    show_default=True,
    help="The agreement_labels every phase of a row must reach.",
)
@click.option(
    "--counts-bar",
    type=click.FloatRange(0, 1),
    default=0.90,
    show_default=True,
    help="The agreement_counts every phase of a row must reach.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
@pass_context
def sampling(
    obj: Context,
    videos,
    detector_name,
    clip_seconds,
    limit_clips,
    steps,
    speedup_bar,
    agreement_bar,
    counts_bar,
    json_path,
):
    """Every sampling step at once: agreement with the naive run per phase, and the speedup it allows."""
    console = wide_console()
    settings = detector_settings(obj, detector_name)
    pipeline_detector = detector_or_random(settings, console)
    detectors = {"pipeline": pipeline_detector, "naive": naive_twin(pipeline_detector, settings, console)}
    if pipeline_detector.input_side(settings.max_side) is None:
        console.print(
            f"[yellow]{settings.name} sees frames at full size: both inputs are the whole frame "
            "(the pipeline would hand it motion regions; bench detect measures that).[/]"
        )
    with tempfile.TemporaryDirectory(prefix="edgecloud-bench-") as tmp:
        measured = []
        for path in cut_clips(footage(videos), clip_seconds, Path(tmp), limit_clips):
            measured.append(measure_clip(path, detectors, settings.max_side))
            console.print(
                f"  {path.name}: every frame, naive input {measured[-1].counts('naive')} "
                f"pipeline input {measured[-1].counts('pipeline')}"
            )
    try:
        figures = sampling_report(
            pipeline_detector,
            measured,
            sorted(set(steps)),
            SamplingBars(speedup_bar, agreement_bar, counts_bar),
            settings.min_frames,
        )
    except ValueError as err:
        raise click.ClickException(str(err)) from None
    table = Table(
        title=f"bench sampling: {figures['detector']} ({figures['weights']}), {figures['clips']} clips "
        f"at {figures['fps']:g} fps (ms per frame: {figures['ms_per_frame']})"
    )
    for column in (
        "reference (every frame)",
        "sampled input",
        "every",
        "fps",
        "peak rule per phase",
        "worst",
        "labels (worst)",
        "unique within 1 (worst)",
        "speedup at most",
        "estimate",
        "could meet both",
    ):
        table.add_column(column, justify="right")
    for row in figures["rows"]:
        table.add_row(
            row["reference"],
            row["sampled"],
            str(row["step"]),
            f"{row['sample_fps']:g}",
            " ".join(f"{a:.0%}" for a in row["agreement_by_phase"]),
            f"{row['agreement_worst_phase']:.0%}",
            f"{row['agreement_labels']:.0%}",
            f"{row['agreement_counts']:.0%}",
            f"{row['speedup_at_most']:.2f}x",
            f"{row['speedup_estimate']:.2f}x",
            "yes" if row["could_meet_both"] else "",
        )
    console.print(table)
    console.print(
        f"a step that could meet {speedup_bar:g}x with agreement_labels {agreement_bar:.0%} and agreement_counts "
        f"{counts_bar:.0%} in every phase against the naive run: "
        f"[bold]{'yes' if figures['any_could_meet_both'] else 'none'}[/]"
    )
    save_json(console, json_path, figures)
