"""``edgecloud demo``: the whole pipeline, end to end, on this machine.

An embedded AWS (moto server), the controller (gunicorn, its own process) with
the local fleet (worker processes registered as EC2 instances), and the edge
agent with a mock PIR and a camera that plays real footage. Its detector must
load before anything starts, and every clip must end done (demo_checks);
workers must launch and then retire.
"""

from __future__ import annotations

import json
import logging
import tempfile
import time
from collections import Counter
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from edgecloud.aws import Aws
from edgecloud.config import Settings
from edgecloud.fleet_query import fleet_instances
from edgecloud.localcloud import OPERATOR, ControllerProcess, EmbeddedAws, demo_settings, issue_credentials, write_token
from edgecloud.protocol.client import ControllerClient
from edgecloud.protocol.states import FINAL
from edgecloud.provision import ensure_resources

from .dashboard import wait_for_interrupt
from .demo_checks import check_detector, not_done
from .demo_report import build_report, event_summaries, print_report

log = logging.getLogger(__name__)

# How many times longer the emulated Pi takes over a clip than this machine (a Pi is about 6x slower): with
# it the Pi is busy as a real one would be, so a burst overflows to the cloud however fast this machine is.
PI_SLOWDOWN = 6.0


def fleet_counts(aws: Aws, fleet_name: str) -> dict[str, int]:
    """Workers of our fleet by EC2 state, as EC2 itself reports them."""
    return dict(Counter(fleet_instances(aws, fleet_name).values()))


def record_clips(agent, pin, n: int, *, timeout: float) -> list[str]:
    """Fire the PIR n times, one clip each; returns the clip ids the agent recorded."""
    ids: list[str] = []
    for _ in range(n):
        before = agent.clips_recorded
        pin.drive_high()
        # Hold the PIR high until the recorder has seen it (the sensor samples at 10 Hz).
        seen = agent.recorder.wait_for(lambda r: r.state == "recording" or len(r.clips) > before, timeout)  # noqa: B023 - waited on within this iteration
        pin.drive_low()
        clip_id = agent.wait_for_clip(after=before, timeout=timeout) if seen else None
        if clip_id is None:
            raise RuntimeError("the edge agent recorded no clip for a motion event")
        ids.append(clip_id)
    return ids


def wait_results(
    url: str, clip_ids: list[str], *, token: str, timeout: float, progress=None, task=None
) -> dict[str, dict]:
    """Long-poll the controller (as ``token``'s holder) until every clip is done or failed (or time runs out)."""
    statuses: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    with ControllerClient(url, token=token) as controller:
        for clip_id in clip_ids:
            while True:
                left = deadline - time.monotonic()
                body = controller.status_body(clip_id, wait=max(0, min(20, int(left))))
                if body.get("status") in FINAL or left <= 0:
                    statuses[clip_id] = body
                    break
            if progress is not None:
                progress.advance(task)
    return statuses


def wait_retired(aws: Aws, fleet_name: str, *, timeout: float) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        counts = fleet_counts(aws, fleet_name)
        busy = counts.get("pending", 0) + counts.get("running", 0)
        if (counts and busy == 0) or time.monotonic() > deadline:
            return counts
        time.sleep(1)


def run_demo(
    settings: Settings,
    *,
    video: Path,
    clips: int = 8,
    create_resources: bool = True,
    policy: str = "busy-offload",
    speed: float = 20.0,
    workdir: Path | None = None,
    console: Console | None = None,
    timeout: float = 300,
    then=None,
    engine: str = "ec2",
    pi_slowdown: float = PI_SLOWDOWN,
) -> dict:
    """Run the pipeline end to end and return the report (see ``build_report``). ``then(report, url,
    settings)``, if given, runs once the report is made, while every process is still up; ``engine``
    ``lambda`` serves the jobs queue with the emulated function instead of local EC2 workers; the Pi's local
    analysis is paced ``pi_slowdown`` times slower than this machine (``edge.emulated_pi_slowdown``)."""
    from gpiozero.pins.mock import MockFactory

    from edgecloud.edge.agent import EdgeAgent

    console = console or Console(stderr=True)
    video = Path(video)
    if not video.is_file():
        raise click.ClickException(f"footage not found: {video}")
    with ExitStack() as stack:
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="edgecloud-demo-")))
        endpoint = settings.aws.endpoint_url
        if endpoint is None:
            endpoint = stack.enter_context(EmbeddedAws(own_process=True)).endpoint_url  # its own GIL
        s = demo_settings(
            settings,
            video=video,
            workdir=Path(workdir),
            endpoint_url=endpoint,
            policy=policy,
            speed=speed,
            pi_slowdown=pi_slowdown,
        )
        aws = Aws(s.aws)
        if create_resources:
            ensure_resources(aws, s)
        tokens = issue_credentials(s, [s.edge.device_id])  # the demo's Pi, and an operator to read results
        s.edge.token_file = write_token(Path(workdir) / "device.token", tokens[s.edge.device_id])
        console.log(f"embedded AWS at {endpoint}; device {s.edge.device_id} and operator {OPERATOR} registered")
        function = None
        if engine == "lambda":
            from .lambda_ import start_lambda

            function = start_lambda(stack, s, Path(workdir), console)
        controller = stack.enter_context(ControllerProcess(s, Path(workdir)))
        s.edge.controller_url = controller.url
        console.log(f"controller at {controller.url} (gunicorn), fleet: {s.fleet.backend}")

        factory = MockFactory()
        pin = factory.pin(s.edge.pir_pin)
        agent = stack.enter_context(EdgeAgent(s, pin_factory=factory))
        agent.start()
        columns = (
            SpinnerColumn(),
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.completed}/{task.total}"),
            TimeElapsedColumn(),
        )
        with Progress(*columns, console=console, transient=False) as progress:
            rec = progress.add_task("recording clips (mock PIR, real footage)", total=clips)
            clip_ids = record_clips(agent, pin, clips, timeout=60)
            progress.update(rec, completed=len(clip_ids))
            res = progress.add_task("waiting for results", total=clips)
            if not agent.wait_idle(timeout=timeout):
                console.log("[yellow]edge spool did not drain in time")
            statuses = wait_results(
                controller.url, clip_ids, token=tokens[OPERATOR], timeout=timeout, progress=progress, task=res
            )
            if function is None:
                progress.add_task("waiting for idle workers to retire", total=None)
                counts = wait_retired(aws, s.fleet.name, timeout=max(60, s.worker.idle_timeout * 6))
            else:
                counts = {}
        report = build_report(clip_ids, statuses, counts, {r.clip_id: r for r in agent.stats.records()})
        report["pi_slowdown"] = pi_slowdown
        with ControllerClient(controller.url, token=tokens[OPERATOR]) as client:  # clips with objects, grouped
            report["events"] = event_summaries(client.events(limit=200).json()["events"])
        if function is not None:
            from .lambda_ import lambda_report

            report["function"] = lambda_report(function)
        if then is not None:
            then(report, controller.url, s)
        return report


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
