"""``edgecloud demo``: the whole pipeline, end to end, on this machine.

The command: its options, the checks before anything starts (its detector must load)
and after (every clip must end done; demo_checks), the report printed, written as JSON
or served with the dashboard. Running the pipeline itself is demo_run.
"""

from __future__ import annotations

import json
import logging
import time
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console

from edgecloud.config import Settings

from .dashboard import wait_for_interrupt
from .demo_checks import check_detector, not_done
from .demo_report import print_report
from .demo_run import PI_SLOWDOWN, run_demo


@click.command("demo")
@click.option(
    "--video",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=Path("../shared/footage/vtest.avi"),
    show_default=True,
    help="Footage the Pi's camera plays.",
)
@click.option(
    "--clips", type=click.IntRange(1, 100), default=8, show_default=True, help="Motion events, one clip each."
)
@click.option(
    "--policy",
    type=click.Choice(["busy-offload", "fastest-finish", "escalate-uncertain"]),
    default="busy-offload",
    show_default=True,
    help="Where the Pi processes clips.",
)
@click.option(
    "--speed",
    type=click.FloatRange(0.1, 50),
    default=20.0,
    show_default=True,
    help="Camera playback speed (video seconds per wall second).",
)
@click.option(
    "--pi-slowdown",
    type=click.FloatRange(1, 100),
    default=PI_SLOWDOWN,
    show_default=True,
    help="The emulated Pi's local analysis, really run, takes this many times as long as on this machine "
    "(edge.emulated_pi_slowdown), a Pi's pace, so a burst overflows to the cloud; 1: this machine's pace.",
)
@click.option(
    "--engine",
    type=click.Choice(["ec2", "lambda"]),
    default="ec2",
    show_default=True,
    help="Cloud workers: EC2 worker processes, or the Lambda function from its zip (emulated here).",
)
@click.option(
    "--mode",
    type=click.Choice(["clips", "frames"]),
    default="clips",
    show_default=True,
    help="frames: the per-frame path (a JPEG every edge.frame_interval_s straight to S3, answered by the "
    "function); implies --engine lambda.",
)
@click.option(
    "--seconds",
    type=click.FloatRange(1, 600),
    default=20,
    show_default=True,
    help="--mode frames: how long the PIR stays high.",
)
@click.option(
    "--detector", help="Detector of the Pi and the workers (default detector.name); hog needs no model files."
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the report as JSON.")
@click.option("--workdir", type=click.Path(file_okay=False, path_type=Path), help="Keep logs and spool here.")
@click.option("--serve", is_flag=True, help="After the run, keep everything up and serve the dashboard until Ctrl-C.")
@click.pass_obj
def demo(obj, video, clips, policy, speed, pi_slowdown, engine, mode, seconds, detector, json_path, workdir, serve):
    """Run the whole pipeline end to end on embedded AWS and real footage."""
    console = Console(stderr=True)
    settings = obj.settings
    if detector:
        settings = settings.model_copy(update={"detector": settings.detector.model_copy(update={"name": detector})})
    check_detector(settings)  # before anything starts: no model, no demo (every clip would fail)
    if not obj.verbose:
        # The components log every clip at INFO; the progress bars and the table tell the story.
        logging.getLogger().setLevel(logging.WARNING)
    if mode == "frames":
        from .frames_demo import demo_frames

        return demo_frames(
            settings, video=video, seconds=seconds, json_path=json_path, workdir=workdir, console=console
        )
    started = time.monotonic()
    from edgecloud.edge.camera import CameraError

    out = Console()
    # Piped or captured output gets a width that fits clip ids and a worker's instance id or the function's
    # request id, with the placement, not 80 columns.
    out = out if out.is_terminal else Console(width=150)

    def publish(report: dict) -> None:
        report["wall_s"] = round(time.monotonic() - started, 1)
        report["finished_at"] = datetime.now().astimezone().isoformat(timespec="seconds")
        print_report(report, out)
        if json_path:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(report, indent=2))

    def serve_dashboard(report: dict, url: str, settings: Settings) -> None:
        from .dashboard import open_dashboard

        report["dashboard"], token = open_dashboard(settings, url)
        publish(report)  # written before serving starts
        # Plain lines, never wrapped, so the links can be copied whole.
        click.echo(f"dashboard: {report['dashboard']['url']}")
        click.echo(f"one-time login link (valid 5 minutes): {report['dashboard']['login_url']}")
        click.echo(f"or log in with the demo operator's token: {token}")
        click.echo("serving until Ctrl-C", err=True)
        wait_for_interrupt()

    try:
        report = run_demo(
            settings,
            video=video,
            clips=clips,
            policy=policy,
            speed=speed,
            workdir=workdir,
            console=console,
            then=serve_dashboard if serve else None,
            engine=engine,
            pi_slowdown=pi_slowdown,
        )
    except CameraError as err:
        raise click.ClickException(str(err)) from None
    if not serve:
        publish(report)
    unfinished = not_done(report)
    if unfinished:  # the footage is good: a clip not done is the pipeline's fault
        raise click.ClickException(f"{len(unfinished)} clip(s) not done: {'; '.join(unfinished)}")
