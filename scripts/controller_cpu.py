"""CPU-seconds the controller spends per upload: `edgecloud bench upload`, with the
controller's processes (gunicorn master and workers) sampled through psutil.

    .venv/bin/python scripts/controller_cpu.py --clip vtest-5s.mp4 --devices 10 --seconds 20

Prints the bench's figures plus `controller_cpu_s` (user + system of every controller
process, from its first to its last sample) and `cpu_ms_per_upload`. The embedded AWS
runs in this process, not the controller's, so its CPU is not counted (on AWS, S3, SQS
and DynamoDB do that work). The start-up (imports) is counted too: a few seconds that
weigh less the longer the run.
"""
from __future__ import annotations

import json
import tempfile
import threading
from pathlib import Path

import click
import psutil
from rich.console import Console

from edgecloud.bench.upload import run_upload
from edgecloud.config import load


def controller_cpu_s(until: threading.Event, every_s: float = 0.2) -> dict[int, float]:
    """The latest CPU seconds seen of each process running `controller serve` under this one."""
    seen: dict[int, float] = {}
    me = psutil.Process()
    while not until.wait(every_s):
        for child in me.children(recursive=True):
            try:
                if "controller" in " ".join(child.cmdline()) or "gunicorn" in child.name():
                    times = child.cpu_times()
                    seen[child.pid] = times.user + times.system
            except psutil.Error:  # gone between the listing and the look
                continue
    return seen


@click.command()
@click.option("--devices", default=10, show_default=True)
@click.option("--seconds", default=20.0, show_default=True)
@click.option("--clip", type=click.Path(exists=True, dir_okay=False, path_type=Path), required=True,
              help="The clip every Pi uploads, e.g. the footage's vtest-5s.mp4.")
def main(devices: int, seconds: float, clip: Path):
    done, samples = threading.Event(), {}
    sampler = threading.Thread(target=lambda: samples.update(controller_cpu_s(done)), daemon=True)
    sampler.start()
    with tempfile.TemporaryDirectory() as workdir:
        figures = run_upload(load(), clip=clip, devices=devices, seconds=seconds,
                             workdir=Path(workdir), console=Console(stderr=True))
    done.set()
    sampler.join()
    cpu = sum(samples.values())
    figures |= {"controller_processes": len(samples), "controller_cpu_s": round(cpu, 2),
                "cpu_ms_per_upload": round(1000 * cpu / max(1, figures["uploads"]), 1)}
    click.echo(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
