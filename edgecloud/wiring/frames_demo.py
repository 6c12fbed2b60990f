"""``edgecloud demo --mode frames``: the per-frame path end to end on this machine.

The embedded AWS, the controller, the Lambda function from its zip (emulated,
with the frames bucket's notification), and the edge agent in frames mode with
a mock PIR held high for ``seconds``: every frame goes straight to S3 with the
controller's presigned POST, and its answer comes back through the device's
answers queue. The report has each frame's round trip and their p50 / p95.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from edgecloud.aws import Aws
from edgecloud.config import Settings
from edgecloud.localcloud import ControllerProcess, EmbeddedAws, demo_settings, issue_credentials, write_token
from edgecloud.provision import ensure_resources

from .lambda_ import start_lambda

ANSWER_TIMEOUT_S = 30.0
# Frames come every 0.5 s and one takes about that to analyse: two warm environments keep up.
PROVISIONED = 2


def frames_report(records: list) -> dict:
    frames = [r.as_json() for r in records]
    trips = [f["round_trip_s"] for f in frames if f["round_trip_s"] is not None]
    p50, p95 = (round(float(v), 3) for v in np.percentile(trips, [50, 95])) if trips else (None, None)
    return {
        "frames": frames,
        "round_trip_p50_s": p50,
        "round_trip_p95_s": p95,
        "unanswered": sum(f["answered_at"] is None for f in frames),
    }


def run_frames_demo(settings: Settings, *, video: Path, seconds: float, workdir: Path, console: Console) -> dict:
    from gpiozero.pins.mock import MockFactory

    from edgecloud.edge.agent import EdgeAgent

    with ExitStack() as stack:
        endpoint = settings.aws.endpoint_url or stack.enter_context(EmbeddedAws()).endpoint_url
        s = demo_settings(
            settings, video=Path(video), workdir=workdir, endpoint_url=endpoint, policy=settings.edge.policy, speed=1.0
        )
        s.edge.mode = "frames"
        ensure_resources(Aws(s.aws), s)
        tokens = issue_credentials(s, [s.edge.device_id])  # the Pi asks for its presigned POSTs as itself
        s.edge.token_file = write_token(workdir / "device.token", tokens[s.edge.device_id])
        deployment = start_lambda(stack, s, workdir, console)
        warm = deployment.function.provision(PROVISIONED)
        console.log(
            f"{PROVISIONED} execution environments provisioned ahead (init {warm:.2f} s), as Lambda's "
            "provisioned concurrency would keep them"
        )
        controller = stack.enter_context(ControllerProcess(s, workdir))
        s.edge.controller_url = controller.url
        factory = MockFactory()
        pin = factory.pin(s.edge.pir_pin)
        agent = stack.enter_context(EdgeAgent(s, pin_factory=factory))
        console.log(f"PIR high for {seconds:g} s: a frame every {s.edge.frame_interval_s:g} s straight to S3")
        pin.drive_high()
        threading.Event().wait(seconds)  # the motion lasts this long: that is the demo's input
        pin.drive_low()
        agent.frames.wait_answered(ANSWER_TIMEOUT_S)
        report = frames_report(agent.frames.records())
        report["function"] = {
            "invocations": len(deployment.function.invocations),
            "cold_starts": deployment.function.cold_starts,
        }
        return report


def print_frames(report: dict, console: Console) -> None:
    table = Table(title="edgecloud demo --mode frames")
    for column in ("frame", "round trip (s)", "labels"):
        table.add_column(column, no_wrap=column == "frame")
    for f in report["frames"]:
        table.add_row(f["frame_id"], str(f["round_trip_s"]), f["labels"] or "")
    console.print(table)
    console.print(
        f"{len(report['frames'])} frames, round trip p50 {report['round_trip_p50_s']} s, "
        f"p95 {report['round_trip_p95_s']} s (the seed's bar: p95 under 2 s); "
        f"function cold starts: {report['function']['cold_starts']}"
    )


def demo_frames(settings: Settings, *, video: Path, seconds: float, json_path, workdir, console: Console) -> None:
    """The command's body: run, print, write the JSON; fail when a frame went unanswered."""
    import json
    import tempfile

    import click

    with tempfile.TemporaryDirectory(prefix="edgecloud-frames-") as tmp:
        report = run_frames_demo(
            settings, video=video, seconds=seconds, workdir=Path(workdir or tmp).resolve(), console=console
        )
    out = Console()
    print_frames(report, out if out.is_terminal else Console(width=120))
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(json.dumps(report, indent=2))
    if not report["frames"] or report["unanswered"]:
        raise click.ClickException(f"{report['unanswered']} of {len(report['frames'])} frame(s) without an answer")
