"""Running the demo's pipeline: everything brought up on this machine, the Pi driven, the results awaited.

An embedded AWS (moto server), the controller (gunicorn, its own process) with the
local fleet (worker processes registered as EC2 instances), and the edge agent with a
mock PIR and a camera that plays real footage; the mock PIR fires once per clip, the
results are long-polled from the controller, and workers must launch and then retire.
Separate from the ``edgecloud demo`` command (demo.py), which checks first, chooses the
options and publishes the report: here is what a test or another tool calls to run it.
"""

from __future__ import annotations

import tempfile
import time
from collections import Counter
from contextlib import ExitStack
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

from .demo_report import build_report, event_summaries

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
