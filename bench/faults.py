"""``edgecloud bench faults``: each fault played against the real processes; nothing may be lost.

Every scenario starts its own rig (:mod:`edgecloud.bench.fault_rig`): a moto
server behind a TCP proxy, the controller (gunicorn) with local worker
processes, and the Pi's spool and uploader behind another proxy. It sends a
burst of real clips, breaks something for real, and counts clips sent,
results, lost (no final result at the end) and duplicated (stored twice).
"""
from __future__ import annotations

import json
import logging
import tempfile
import threading
import time
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from edgecloud.cli import Context, pass_context

from .fault_rig import FaultRig

OUTAGE_S = 20  # how long the AWS endpoint is gone


def worker_kill(rig: FaultRig, clip: Path) -> None:
    """kill -9 a worker mid-job: its job comes back after the visibility timeout."""
    ids = rig.send(clip, 3)
    busy: dict = {}

    def someone_processing() -> bool:
        for clip_id in ids:
            body = rig.status(clip_id)
            if body.get("status") == "processing" and body.get("processed_by"):
                busy["worker"] = body["processed_by"]
                return True
        return False

    if not rig.wait_for(someone_processing, 90):
        raise RuntimeError("no worker started a job")
    if not rig.kill_workers(busy["worker"]):
        raise RuntimeError(f"worker {busy['worker']} not found to kill")


def controller_kill(rig: FaultRig, clip: Path) -> None:
    """kill -9 the controller mid-burst of uploads, then start it again on the same disk."""
    rig.send(clip, 8)
    rig.wait_for(lambda: rig.uploader.uploaded >= 2, 60, every=0.02)
    rig.kill_controller()
    rig.restart_controller()


def aws_outage(rig: FaultRig, clip: Path) -> None:
    """The AWS endpoint gone for OUTAGE_S seconds mid-burst (its proxy cut: moto keeps its state)."""
    rig.send(clip, 3)
    rig.wait_for(lambda: rig.uploader.uploaded >= 1, 60, every=0.05)
    rig.aws_link.cut()
    rig.send(clip, 2)
    time.sleep(OUTAGE_S)
    rig.aws_link.restore()


def network_down(rig: FaultRig, clip: Path) -> None:
    """The Pi cut off for the whole burst: every clip waits in its spool, then goes."""
    rig.pi_link.cut()
    rig.send(clip, 5)
    time.sleep(5)  # the uploader keeps failing and backing off meanwhile
    if len(rig.spool) != 5:
        raise RuntimeError(f"{len(rig.spool)} clips spooled while cut off, not 5")
    rig.pi_link.restore()


def poison_clip(rig: FaultRig, clip: Path) -> None:
    """A clip that is an MP4 on its face and garbage inside: failed with a reason, never a loop."""
    poison = rig.workdir / "poison.mp4"
    poison.write_bytes(clip.read_bytes()[:32] + bytes(range(256)) * 400)
    rig.send(poison, 1)
    rig.send(clip, 1)


class _Saw409(logging.Handler):
    def __init__(self):
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record):
        if "HTTP 409" in record.getMessage():
            self.seen.set()


def duplicate_upload_race(rig: FaultRig, clip: Path) -> None:
    """A slow first upload (S3 stalls) and its retry overlap; then the first one fails."""
    handler = _Saw409()
    uploader_log = logging.getLogger("edgecloud.edge.uploader")
    uploader_log.addHandler(handler)
    try:
        rig.aws_link.stall()
        rig.send(clip, 1)
        if not handler.seen.wait(60):
            raise RuntimeError("the retry never overlapped the first upload")
    finally:
        uploader_log.removeHandler(handler)
    rig.aws_link.cut()  # the first upload's S3 calls now fail, after boto3's retries
    time.sleep(OUTAGE_S)
    rig.aws_link.restore()


def spool_full(rig: FaultRig, clip: Path) -> None:
    """The Pi's spool at its cap while cut off: the newest clip is kept, every clip arrives."""
    rig.pi_link.cut()
    rig.send(clip, 4)
    rig.pi_link.restore()


SCENARIOS = {
    "worker-kill": (worker_kill, {}),
    "controller-kill": (controller_kill, {}),
    "aws-outage": (aws_outage, {}),
    "network-down": (network_down, {}),
    "poison-clip": (poison_clip, {}),
    "duplicate-upload-race": (duplicate_upload_race, {}),
    "spool-full": (spool_full, {"spool_clips": 4}),
}


def run_scenario(name: str, settings, clip: Path, video: Path, *, timeout_s: float = 180) -> dict:
    play, options = SCENARIOS[name]
    cap = int(clip.stat().st_size * options["spool_clips"] + 16384) if "spool_clips" in options else 10**9
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"edgecloud-fault-{name}-") as tmp:
        with FaultRig(settings, Path(tmp), video, spool_max_bytes=cap) as rig:
            play(rig, clip)
            counts = rig.outcome(timeout_s)
    return {"name": name, **counts, "seconds": round(time.monotonic() - started, 1)}


def print_table(report: dict, console: Console) -> None:
    table = Table(title="bench faults")
    for column in ("scenario", "clips", "results", "lost", "duplicated", "seconds", "failed with"):
        table.add_column(column, justify="left" if column in ("scenario", "failed with") else "right")
    for s in report["scenarios"]:
        table.add_row(s["name"], str(s["clips"]), str(s["results"]), str(s["lost"]), str(s["duplicated"]),
                      f"{s['seconds']:.1f}", "; ".join(e[:60] for e in s["failed"]))
    console.print(table)


@click.command("faults")
@click.option("--clip", type=click.Path(exists=True, dir_okay=False, path_type=Path),
              default=Path("../shared/footage/vtest-5s.mp4"), show_default=True, help="The clip every Pi sends.")
@click.option("--scenario", "names", multiple=True, type=click.Choice(list(SCENARIOS)),
              help="Run only these (repeatable; default all).")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
@pass_context
def faults(obj: Context, clip, names, json_path):
    """Each fault against the real processes: clips sent, results, lost, duplicated."""
    console = Console(stderr=True)
    if not obj.verbose:
        logging.getLogger().setLevel(logging.WARNING)
    report = {"scenarios": []}
    for name in names or SCENARIOS:
        console.log(f"{name}: {SCENARIOS[name][0].__doc__}")
        report["scenarios"].append(run_scenario(name, obj.settings, clip, clip))
        console.log(report["scenarios"][-1])
    print_table(report, Console())
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2))
    lost = [s["name"] for s in report["scenarios"] if s["lost"]]
    if lost:
        raise click.ClickException(f"clips lost in: {', '.join(lost)}")
