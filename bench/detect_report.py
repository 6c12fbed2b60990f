"""``bench detect``'s figures on screen: speed, agreement on tracked counts, and the counting error."""

from __future__ import annotations

from rich.table import Table


def _speed(console, report: dict) -> None:
    table = Table(title=f"bench detect: {report['detector']} ({report['weights']})")
    for column in ("mode", "median s/clip", "clips/s", "vs pipeline", "mean s/clip", "vs pipeline (mean)"):
        table.add_column(column, justify="right")
    median, mean = report["seconds_per_clip"], report["mean"]["seconds_per_clip"]
    for mode in ("decode", "naive", "pipeline"):
        table.add_row(
            mode,
            f"{median[mode]:.3f}",
            f"{report['clips_per_s_by_mode'][mode]:.2f}",
            f"{median[mode] / median['pipeline']:.2f}x",
            f"{mean[mode]:.3f}",
            f"{mean[mode] / mean['pipeline']:.2f}x",
        )
    console.print(table)
    console.print(
        f"(mean-based: speedup {report['mean']['speedup_vs_naive']}x, "
        f"pipeline / decode {report['mean']['ratio_to_decode']}x)"
    )


def _agreement(console, report: dict) -> None:
    if not report["tracked"]:
        console.print(
            "[bold yellow]No tracker ran (results have no per-label `unique`): agreement_labels, "
            "agreement_counts and the counting error cannot be shown.[/]"
        )
        return
    if not report["phases"]:
        console.print("[bold yellow]No naive run (--no-naive): nothing to agree with.[/]")
        return
    table = Table(
        title=f"sampled pipeline vs the same detector and tracker on every frame, {report['clips']} clips, "
        f"{report['phases']} phases"
    )
    for column in ("figure", "worst phase", "per phase"):
        table.add_column(column, justify="right")
    for name, rule in (("agreement_labels", "same label set"), ("agreement_counts", "each label's unique within 1")):
        table.add_row(
            f"{name} ({rule})", f"{report[name]:.0%}", " ".join(f"{a:.0%}" for a in report[f"{name}_by_phase"])
        )
    console.print(table)


def _counting_error(console, report: dict) -> None:
    error = report["counting_error"]
    if not error:
        return
    if not error["clips"]:
        console.print(
            "[yellow]No hand counts for these clips (bench/groundtruth/people.json counts 5 s clips of "
            "vtest.avi): no counting error.[/]"
        )
        return
    table = Table(title=f"distinct {error['label']}s against the hand count ({error['clips']} clips)")
    for column in ("clip", "by hand", "tracked (unique)", "naive per-frame peak"):
        table.add_column(column, justify="right")
    for row in error["per_clip"]:
        table.add_row(row["clip"], str(row["counted_by_hand"]), str(row["tracked"]), str(row["naive_peak"]))
    table.add_row("MAE", "", f"{error['tracked_mae']:.2f}", f"{error['naive_peak_mae']:.2f}")
    console.print(table)


def print_detect_report(console, report: dict, random_weights: bool) -> None:
    _speed(console, report)
    _agreement(console, report)
    _counting_error(console, report)
    console.print(
        f"speedup vs naive: [bold]{report['speedup_vs_naive']}x[/]   "
        f"pipeline / decode alone: [bold]{report['ratio_to_decode']}x[/]   "
        f"frames analysed {report['frames_analysed']}/{report['frames_total']}"
    )
    if not report["anything_detected"]:
        console.print(
            "[bold yellow]Nothing was detected in any clip, so agreement is vacuous"
            + (" (random weights rarely reach min_score; try --min-score 0.01)" if random_weights else "")
            + ".[/]"
        )
