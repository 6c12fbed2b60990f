"""``edgecloud bench faults``: each fault played against the real processes; it must show that the fault
happened, and nothing may be lost.

Every scenario (:mod:`edgecloud.bench.fault_scenarios`) starts its own rig
(:mod:`edgecloud.bench.fault_rig`): a moto server behind a proxy, the
controller (gunicorn) with local worker processes, and the Pi's spool and
uploader behind another proxy. It sends a burst of real clips, breaks something
for real, and counts clips sent, results, lost (no final result at the end, or
``failed`` unexpectedly) and duplicated (stored twice); ``fault_observed`` and
``evidence`` say whether and how the run shows the fault happened.
"""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from edgecloud.context import Context, pass_context

from . import fault_scenarios, hostile_faults
from .cli import save_json
from .fault_rig import FaultRig
from .fault_scenarios import Scenario, unobserved
from .footage import clip_option

SCENARIOS: dict[str, Scenario] = {**fault_scenarios.SCENARIOS, **hostile_faults.SCENARIOS}

log = logging.getLogger(__name__)


def run_scenario(name: str, settings, clip: Path, video: Path, *, timeout_s: float = 180) -> dict:
    """One scenario's row. Whatever goes wrong (the rig does not start, the play raises), the row is
    written: the error in it, the clips counted as far as the rig can still tell, the fault unobserved."""
    scenario = SCENARIOS[name]
    row = {
        "name": name,
        "clips": 0,
        "results": 0,
        "lost": 0,
        "duplicated": 0,
        "failed": [],
        "spooled": 0,
        "fault_observed": False,
        "evidence": "",
    }
    cap = int(clip.stat().st_size * scenario.spool_clips + 16384) if scenario.spool_clips else 10**9
    started = time.monotonic()
    try:
        with tempfile.TemporaryDirectory(prefix=f"edgecloud-fault-{name}-") as tmp:
            with FaultRig(settings, Path(tmp), video, spool_max_bytes=cap, tune=scenario.tune) as rig:
                try:
                    judge = scenario.play(rig, clip)
                except Exception as err:  # noqa: BLE001 - the row says what broke; the others still run
                    log.exception("scenario %s broke", name)
                    row["error"] = f"{type(err).__name__}: {err}"
                    judge = unobserved(f"the scenario broke: {row['error']}")
                outcome = rig.outcome(timeout_s)
                row.update(outcome.row())
                row["fault_observed"], row["evidence"] = judge(outcome)
                if rig.figures:
                    row["figures"] = rig.figures
    except Exception as err:  # noqa: BLE001
        log.exception("scenario %s broke", name)
        row.setdefault("error", f"{type(err).__name__}: {err}")
        row["evidence"] = row["evidence"] or f"the scenario broke: {row['error']}"
        row["fault_observed"] = False
    row["seconds"] = round(time.monotonic() - started, 1)
    return row


def verdict(report: dict) -> list[str]:
    """What makes the run a failure: each scenario that lost a clip, did not show its fault, or broke."""
    problems = []
    for s in report["scenarios"]:
        why = [
            w
            for w, bad in (
                ("lost %d" % s["lost"], s["lost"]),
                ("fault not observed", not s["fault_observed"]),
                ("broke", "error" in s),
            )
            if bad
        ]
        if why:
            problems.append(f"{s['name']} ({', '.join(why)})")
    return problems


def print_table(report: dict, console: Console) -> None:
    table = Table(title="bench faults")
    for column in ("scenario", "clips", "results", "lost", "duplicated", "seconds", "failed with", "fault observed"):
        table.add_column(column, justify="left" if column in ("scenario", "failed with") else "right")
    for s in report["scenarios"]:
        table.add_row(
            s["name"],
            str(s["clips"]),
            str(s["results"]),
            str(s["lost"]),
            str(s["duplicated"]),
            f"{s['seconds']:.1f}",
            "; ".join(e[:60] for e in s["failed"]),
            "yes" if s["fault_observed"] else "NO",
        )
    console.print(table)
    for s in report["scenarios"]:  # too long for a column
        console.print(f"[bold]{s['name']}[/bold]: {s['evidence']}", highlight=False)


@click.command("faults")
@clip_option("The clip every Pi sends.")
@click.option(
    "--scenario",
    "names",
    multiple=True,
    type=click.Choice(list(SCENARIOS)),
    help="Run only these (repeatable; default all).",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the figures here (after each scenario, so a run cut short leaves its rows).",
)
@pass_context
def faults(obj: Context, clip, names, json_path):
    """Each fault against the real processes: clips sent, results, lost, duplicated, fault observed."""
    console = Console(stderr=True)
    if not obj.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    report = {"scenarios": []}
    for name in names or SCENARIOS:
        console.log(f"{name}: {SCENARIOS[name].summary}")
        report["scenarios"].append(run_scenario(name, obj.settings, clip, clip))
        console.log(report["scenarios"][-1])
        save_json(console, json_path, report)
    print_table(report, Console())
    problems = verdict(report)
    if problems:
        raise click.ClickException(f"faults not proven or clips lost: {'; '.join(problems)}")
