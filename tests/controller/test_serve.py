"""`edgecloud controller serve` as a real process on a shared moto server: gunicorn,
the loops, and a local worker process that the autoscaler launches for a real clip."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading

import pytest
import requests

from edgecloud.aws import Aws
from edgecloud.config import dump
from edgecloud.fleet_settings import AutoscalerSettings
from edgecloud.protocol.ids import new_clip_id

READY = "controller listening on "


@pytest.fixture
def served(stack_settings, tmp_path, issue_tokens):
    """A controller process with its own buckets, queues, credentials and fleet name;
    yields (url, settings, process, log, tokens)."""
    settings = stack_settings
    # This controller scales for real: the autoscaler's defaults, but no boot time and two workers at most.
    settings.autoscaler = AutoscalerSettings(interval=0.5, boot_time_s=0, max_workers=2)
    settings.worker.idle_timeout, settings.worker.heartbeat_seconds = 30, 5
    settings.controller.threads = 4
    config = tmp_path / "controller.yaml"
    config.write_text(dump(settings))
    tokens = issue_tokens(settings)
    # The lead's harness runs `python -m edgecloud.cli`; so does this test.
    proc = subprocess.Popen(
        [sys.executable, "-m", "edgecloud.cli", "--config", str(config), "controller", "serve", "--ensure-resources"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )
    lines: queue.Queue[str] = queue.Queue()
    log: list[str] = []

    def pump():
        for line in proc.stdout:
            log.append(line)
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url = None
    while url is None:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            break
        if READY in line:
            url = line.split(READY, 1)[1].strip()
    if url is None:
        proc.kill()
        pytest.fail("controller did not start:\n" + "".join(log))
    try:
        yield url, settings, proc, log, tokens
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)


@pytest.mark.slow
def test_serve_processes_a_clip_with_a_launched_worker_and_stops_cleanly(served, vtest_mp4):
    url, settings, proc, log, tokens = served
    assert requests.get(f"{url}/healthz", timeout=5).json() == {"ok": True}  # open: load balancers probe it
    assert requests.get(f"{url}/v1/stats", timeout=5).status_code == 401
    device = {"Authorization": f"Bearer {tokens['device']}"}

    clip_id = new_clip_id("pi-01")
    with open(vtest_mp4, "rb") as clip:
        # A forged Host header: the status link still names the URL serve listens on (controller.url is unset).
        reply = requests.post(
            f"{url}/v1/clips",
            timeout=30,
            headers={**device, "Host": "evil.example"},
            files={"clip": ("clip.mp4", clip, "video/mp4")},
            data={
                "metadata": json.dumps(
                    {"clip_id": clip_id, "device_id": "pi-01", "content_type": "video/mp4", "fps": 10}
                )
            },
        )
    assert reply.status_code == 201, reply.text
    assert reply.json()["status"] == "queued" and reply.json()["status_url"] == f"{url}/v1/clips/{clip_id}"

    status = requests.get(f"{url}/v1/clips/{clip_id}", params={"wait": 60}, timeout=90, headers=device).json()
    assert status["status"] == "done", "".join(log)
    assert status["processed_by"].startswith("i-")  # the instance id the local fleet registered
    assert "person" in status["result"]["labels"]
    stats = requests.get(f"{url}/v1/stats", timeout=5, headers=device).json()
    assert stats["upload_to_result_s"] > 0 and stats["process_s"] > 0
    assert stats["workers"]["running"] + stats["workers"]["pending"] >= 1

    from click.testing import CliRunner

    from edgecloud.cli import cli

    shown = CliRunner().invoke(cli, ["controller", "status", "--url", url], env={"EDGECLOUD_TOKEN": tokens["operator"]})
    assert shown.exit_code == 0 and json.loads(shown.output)["upload_to_result_s"] == stats["upload_to_result_s"]

    proc.send_signal(signal.SIGTERM)
    assert proc.wait(60) == 0, "".join(log)
    # Its local workers were stopped with it, and their instances no longer count.
    aws = Aws(settings.aws)
    live = aws.ec2.describe_instances(
        Filters=[
            {"Name": "tag:edgecloud:fleet", "Values": [settings.fleet.name]},
            {"Name": "instance-state-name", "Values": ["pending", "running"]},
        ]
    )["Reservations"]
    assert live == []
