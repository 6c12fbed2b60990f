"""``edgecloud bench upload``: how fast the controller takes clips while as many Pis hold long polls.

N threads upload the same real clip (a new clip id each time) as fast as the
controller answers, for S seconds, while N more hold ``?wait=`` polls on clips
that never finish (no workers: uploads only), the way each Pi's result watcher
does. The floor, measured in the same run: a raw S3 put of the same clip to the
same embedded AWS, without the controller.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

import click
import numpy as np
from rich.console import Console
from rich.table import Table

from edgecloud.aws import Aws, Queues
from edgecloud.context import Context, pass_context
from edgecloud.localcloud import ControllerProcess, EmbeddedAws, issue_credentials, local_cloud_settings
from edgecloud.loops import BackgroundLoop
from edgecloud.protocol.client import ControllerClient
from edgecloud.protocol.ids import new_clip_id
from edgecloud.provision import ensure_resources

from .cpu import CpuMeter, ThreadCpu, ms_per
from .footage import clip_option

SEED = {"name": "streaming seed (Locust, documented)", "requests_per_s": 31.0, "p99_ms": 600.0, "failure_pct": 0.21}
POLL_WAIT_S = 10


def _ms(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else float("nan")


def upload_once(controller: ControllerClient, clip: bytes, device: str) -> tuple[bool, float, str]:
    clip_id = new_clip_id(device)
    started = time.perf_counter()
    try:
        reply = controller.upload(
            {"clip_id": clip_id, "device_id": device, "content_type": "video/mp4", "fps": 10},
            ("clip.mp4", clip, "video/mp4"),
        )
        ok = reply.status_code == 201
    except Exception:  # noqa: BLE001 - counted as an error, whatever it was
        ok = False
    return ok, time.perf_counter() - started, clip_id


def _uploader(url, clip, device, token, until, out, lock, cpu: ThreadCpu):
    with ControllerClient(url, token=token) as controller:
        while time.monotonic() < until:
            ok, seconds, _ = upload_once(controller, clip, device)
            with lock:
                out.append((ok, seconds))
    cpu.add_current_thread()


def _poller(url, clip_id, token, until, held, lock):
    with ControllerClient(url, token=token) as controller:
        while time.monotonic() < until:
            started = time.monotonic()
            try:
                reply = controller.status(clip_id, POLL_WAIT_S)
                pause = float(reply.headers.get("Retry-After", 0))
            except Exception:  # noqa: BLE001
                pause = 1.0
            if time.monotonic() - started >= 0.5:
                with lock:
                    held[0] += 1
            elif pause:
                time.sleep(pause)


def _by_role(spent: dict[str, float], client_s: float) -> dict[str, float]:
    """CPU seconds by role. An in-process AWS endpoint shares the bench's process: it is that process
    less the uploading threads (the held polls, a request each POLL_WAIT_S, count with it)."""
    if "aws" in spent:
        return {"controller": spent["controller"], "aws": spent["aws"], "client": spent["bench"]}
    return {"controller": spent["controller"], "aws": max(0.0, spent["bench"] - client_s), "client": client_s}


class JobsSink(BackgroundLoop):
    """Takes the jobs off the queue, as workers would, and drops them: nothing processes clips
    here, and moto's SendMessage reads every message in the queue, so an ever deeper queue
    would slow the emulated SQS down as real SQS does not. (PurgeQueue: once a minute.)"""

    thread_name = "jobs-sink"

    def __init__(self, aws: Aws, queue_url: str):
        super().__init__()
        self.aws, self.queue_url = aws, queue_url

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            taken = self.aws.sqs.receive_message(
                QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
            ).get("Messages", [])
            if taken:
                self.aws.sqs.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(taken)],
                )


def s3_floor(aws: Aws, bucket: str, clip: bytes, n: int = 30) -> list[float]:
    times = []
    for i in range(n):
        started = time.perf_counter()
        aws.s3.put_object(Bucket=bucket, Key=f"bench/floor-{i}.mp4", Body=clip, ContentType="video/mp4")
        times.append(time.perf_counter() - started)
    return times


def run_upload(
    settings, *, clip: Path, devices: int, seconds: float, workdir: Path, console: Console, aws_in_process: bool = False
) -> dict:
    body = clip.read_bytes()
    with EmbeddedAws(own_process=not aws_in_process) as moto:
        s = local_cloud_settings(settings, workdir=workdir, endpoint_url=moto.endpoint_url, idle_timeout=10)
        s.autoscaler.max_workers = 0  # uploads only: nothing processes the clips
        s.controller.upload_burst = 10**6  # the quota is not what this measures: each Pi sends back to back
        # Every Pi's poll is held (none answered at once with Retry-After), and uploads still find a thread.
        s.controller.threads = min(256, max(s.controller.threads, 2 * devices + 2))
        s.controller.max_held_waits = min(devices, s.controller.threads // 2)
        aws = Aws(s.aws)
        ensure_resources(aws, s)
        pollers, pis = [f"poll-{i}" for i in range(devices)], [f"pi-{i}" for i in range(devices)]
        tokens = issue_credentials(s, pollers + pis)
        floor = s3_floor(aws, s.storage.clips_bucket, body)
        with ControllerProcess(s, workdir) as controller, JobsSink(aws, Queues(aws, s).jobs):
            waiting = []
            for device in pollers:
                with ControllerClient(controller.url, token=tokens[device]) as client:
                    waiting.append(upload_once(client, body, device)[2])
            console.log(
                f"controller {controller.url}: {devices} Pis uploading, {devices} holding long polls, {seconds:g} s"
            )
            results: list[tuple[bool, float]] = []
            held, lock, client_cpu = [0], threading.Lock(), ThreadCpu()
            until = time.monotonic() + seconds
            threads = [
                threading.Thread(
                    target=_poller, args=(controller.url, c, tokens[d], until + POLL_WAIT_S, held, lock), daemon=True
                )
                for c, d in zip(waiting, pollers)
            ]
            for t in threads:
                t.start()
            time.sleep(1)  # the polls are held before the first upload
            until = time.monotonic() + seconds
            uploaders = [
                threading.Thread(
                    target=_uploader,
                    args=(controller.url, body, d, tokens[d], until, results, lock, client_cpu),
                    daemon=True,
                )
                for d in pis
            ]
            pids = {"controller": controller.pid, "bench": os.getpid()}
            if moto.pid != os.getpid():
                pids["aws"] = moto.pid
            meter = CpuMeter(pids, with_children=frozenset({"controller"})).start()
            started = time.monotonic()
            for t in uploaders:
                t.start()
            for t in uploaders:
                t.join()
            wall = time.monotonic() - started
            spent = meter.stop()
    ok = [sec for good, sec in results if good]
    errors = len(results) - len(ok)
    return {
        "devices": devices,
        "seconds": round(wall, 1),
        "clip_bytes": len(body),
        "uploads": len(ok),
        "uploads_per_s": round(len(ok) / wall, 1),
        "p50_ms": _ms(ok, 50),
        "p99_ms": _ms(ok, 99),
        "errors": errors,
        "error_pct": round(100 * errors / max(1, len(results)), 2),
        "long_polls_held": held[0],
        "aws_process": "own" if "aws" in pids else "the bench's",
        "cpu_ms_per_upload": ms_per(_by_role(spent, client_cpu.seconds), len(ok)),
        "s3_put_floor": {"p50_ms": _ms(floor, 50), "p99_ms": _ms(floor, 99)},
        "seed": SEED,
    }


@click.command("upload")
@clip_option("Clip every Pi uploads.")
@click.option(
    "--devices",
    type=click.IntRange(1, 200),
    default=20,
    show_default=True,
    help="Pis uploading at once (as many again hold long polls).",
)
@click.option("--seconds", type=click.FloatRange(1, 600), default=20, show_default=True, help="How long to upload.")
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
@click.option(
    "--aws-in-process",
    is_flag=True,
    help="Run moto in a thread of the bench (sharing its GIL with the clients), not in its own process.",
)
@pass_context
def upload(obj: Context, clip, devices, seconds, json_path, aws_in_process):
    """N Pis upload while as many hold long-polls; uploads/s, p50/p99, errors, vs a raw S3 put."""
    console = Console(stderr=True)
    with tempfile.TemporaryDirectory(prefix="edgecloud-upload-") as tmp:
        report = run_upload(
            obj.settings,
            clip=clip,
            devices=devices,
            seconds=seconds,
            workdir=Path(tmp),
            console=console,
            aws_in_process=aws_in_process,
        )
    table = Table(title=f"bench upload: {devices} Pis uploading, {devices} holding long polls")
    for column in ("system", "uploads/s", "p50 ms", "p99 ms", "errors %"):
        table.add_column(column, justify="right")
    table.add_row(
        "edgecloud (this run)",
        f"{report['uploads_per_s']:.1f}",
        f"{report['p50_ms']:.0f}",
        f"{report['p99_ms']:.0f}",
        f"{report['error_pct']:.2f}",
    )
    table.add_row(
        SEED["name"], f"{SEED['requests_per_s']:.1f}", "-", f"{SEED['p99_ms']:.0f}", f"{SEED['failure_pct']:.2f}"
    )
    floor = report["s3_put_floor"]
    table.add_row("raw S3 put of the clip (floor)", "-", f"{floor['p50_ms']:.0f}", f"{floor['p99_ms']:.0f}", "-")
    Console().print(table)
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=2))
