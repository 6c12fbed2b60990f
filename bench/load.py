"""``edgecloud bench load``: the controller and fleet under N Pis uploading at once.

Starts the embedded AWS and the controller with its local fleet, then runs
Locust headless (its own process) with N users, each uploading one real clip
and waiting for its result. Reports round-trip percentiles and timeouts, side
by side with the ClassifyCloud seed's figures for 40 parallel requests.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from edgecloud.aws import Aws
from edgecloud.context import Context, pass_context
from edgecloud.localcloud import ControllerProcess, EmbeddedAws, issue_credentials, local_cloud_settings, write_token
from edgecloud.provision import ensure_resources

from .footage import clip_option

LOCUSTFILE = Path(__file__).with_name("locustfile.py")
SEED = {"name": "seed ClassifyCloud (documented)", "clips": 40, "timed_out": 2, "avg_s": 50.0}


def summarise(trips: list[dict], clips: int) -> dict:
    """Round-trip and upload figures of the trips each Locust user recorded."""
    done = [t for t in trips if t["status"] == "done"]
    trip_s = np.array([t["round_trip_s"] for t in done] or [np.nan])
    upload_s = np.array([t["upload_s"] for t in trips] or [np.nan])
    return {
        "clips": clips,
        "round_trip": {
            "avg_s": round(float(np.mean(trip_s)), 2),
            "p50_s": round(float(np.percentile(trip_s, 50)), 2),
            "p95_s": round(float(np.percentile(trip_s, 95)), 2),
            "max_s": round(float(np.max(trip_s)), 2),
            "timed_out": clips - len(done),
        },
        "upload": {
            "p50_ms": round(float(np.percentile(upload_s, 50)) * 1000, 1),
            "p95_ms": round(float(np.percentile(upload_s, 95)) * 1000, 1),
            "failures": sum(1 for t in trips if t["status"].startswith("upload")),
        },
        "unfinished": [t for t in trips if t["status"] != "done"],  # which clip, where it stood, why
    }


def log_lines_about(log_path: Path, clip_ids: list[str], most: int = 40) -> list[str]:
    """The controller's log lines that name one of ``clip_ids`` or report an error: why a trip did not finish."""
    if not log_path.exists():
        return []
    marks = (*clip_ids, "ERROR", "Traceback", "WARNING", "Error")
    return [
        line.rstrip() for line in log_path.read_text(errors="replace").splitlines() if any(m in line for m in marks)
    ][-most:]


def run_load(settings, *, clip: Path, clips: int, timeout_s: float, workdir: Path, console: Console) -> dict:
    with EmbeddedAws(own_process=True) as aws_server:
        s = local_cloud_settings(settings, workdir=workdir, endpoint_url=aws_server.endpoint_url, idle_timeout=10)
        ensure_resources(Aws(s.aws), s)
        tokens = issue_credentials(s, [f"load-{n:03d}" for n in range(clips)])
        tokens_path = workdir / "device-tokens.json"
        write_token(tokens_path, json.dumps({k: v for k, v in tokens.items() if k.startswith("load-")}))
        with ControllerProcess(s, workdir) as controller:
            console.log(f"controller {controller.url}; {clips} Locust users, one {clip.name} each")
            trips_path = workdir / "trips.json"
            env = dict(
                os.environ,
                EDGECLOUD_LOAD_CLIP=str(clip),
                EDGECLOUD_LOAD_CLIPS=str(clips),
                EDGECLOUD_LOAD_TIMEOUT=str(timeout_s),
                EDGECLOUD_LOAD_OUT=str(trips_path),
                EDGECLOUD_LOAD_TOKENS=str(tokens_path),
            )
            started = time.monotonic()
            run = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "locust",
                    "-f",
                    str(LOCUSTFILE),
                    "--headless",
                    "--only-summary",
                    "-u",
                    str(clips),
                    "-r",
                    str(clips),
                    "-t",
                    f"{int(timeout_s + 60)}s",
                    "--host",
                    controller.url,
                    "--exit-code-on-error",
                    "0",
                ],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            wall = time.monotonic() - started
    trips = json.loads(trips_path.read_text()) if trips_path.exists() else []
    if run.returncode != 0 or not trips:
        raise click.ClickException(f"locust run failed (exit {run.returncode}):\n{run.stderr[-3000:]}")
    report = {**summarise(trips, clips), "wall_s": round(wall, 1), "seed": SEED}
    if report["round_trip"]["timed_out"]:
        report["controller_log"] = log_lines_about(controller.log_path, [t["clip_id"] for t in report["unfinished"]])
    return report


@click.command("load")
@clip_option("Clip every Pi uploads.")
@click.option("--clips", type=click.IntRange(1, 500), default=40, show_default=True, help="Pis uploading at once.")
@click.option(
    "--timeout",
    "timeout_s",
    type=click.FloatRange(1, 600),
    default=120,
    show_default=True,
    help="Round trips longer than this count as timed out (the seed used 120 s).",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
@pass_context
def load(obj: Context, clip, clips, timeout_s, json_path):
    """N Pis upload a clip at once; round-trip latency vs the ClassifyCloud seed."""
    console = Console()
    with tempfile.TemporaryDirectory(prefix="edgecloud-load-") as tmp:
        report = run_load(obj.settings, clip=clip, clips=clips, timeout_s=timeout_s, workdir=Path(tmp), console=console)
    table = Table(title=f"bench load: {clips} clips uploaded at once")
    for column in ("system", "clips", "timed out", "avg s", "p95 s"):
        table.add_column(column, justify="right")
    rt = report["round_trip"]
    table.add_row("edgecloud (this run)", str(clips), str(rt["timed_out"]), f"{rt['avg_s']:.1f}", f"{rt['p95_s']:.1f}")
    table.add_row(SEED["name"], str(SEED["clips"]), str(SEED["timed_out"]), f"{SEED['avg_s']:.1f}", "-")
    console.print(table)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2))
