"""The cloud path across real processes: gunicorn controller, worker processes,
one embedded AWS. A clip POSTed over HTTP must come back `done` from a worker."""

import json
import threading
import time

import pytest
import requests

from edgecloud.aws import Aws
from edgecloud.clock import utcnow
from edgecloud.localcloud import ControllerProcess
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.keys import result_key
from edgecloud.wiring.demo_run import fleet_counts, wait_retired

pytestmark = pytest.mark.slow


def post_clip(url, path, *, headers, content_type, fps=None, device="pi-01"):
    clip_id = new_clip_id(device)
    meta = {
        "clip_id": clip_id,
        "device_id": device,
        "recorded_at": utcnow().isoformat(),
        "fps": fps,
        "content_type": content_type,
    }
    with open(path, "rb") as fh:
        r = requests.post(
            f"{url}/v1/clips",
            files={"clip": (path.name, fh, content_type)},
            data={"metadata": json.dumps(meta)},
            timeout=30,
            headers=headers,
        )
    assert r.status_code == 201, r.text
    assert r.json()["clip_id"] == clip_id
    return clip_id


def wait_done(url, clip_id, headers, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{url}/v1/clips/{clip_id}", params={"wait": 20}, timeout=40, headers=headers).json()
        if body["status"] in ("done", "failed"):
            return body
    raise AssertionError(f"{clip_id} not finished after {timeout}s: {body}")


def test_clip_flows_through_queue_and_worker_to_done_then_worker_retires(
    stack_settings, tmp_path, vtest_mp4, device_auth
):
    aws = Aws(stack_settings.aws)
    with ControllerProcess(stack_settings, tmp_path) as controller:
        assert requests.get(f"{controller.url}/healthz", timeout=5).ok
        clip_id = post_clip(controller.url, vtest_mp4, headers=device_auth, content_type="video/mp4")
        body = wait_done(controller.url, clip_id, device_auth)
        assert body["status"] == "done", body
        assert body["processed_by"].startswith("i-")  # an EC2 instance id from the embedded EC2
        assert "person" in body["result"]["labels"].split(",")
        stored = json.loads(
            aws.s3.get_object(Bucket=stack_settings.storage.results_bucket, Key=result_key(clip_id))["Body"].read()
        )
        assert stored["clip_id"] == clip_id and stored["status"] == "done"
        # With nothing left to do, the worker terminates its own instance.
        counts = wait_retired(aws, stack_settings.fleet.name, timeout=90)
        assert counts.get("terminated", 0) >= 1
        assert counts.get("running", 0) + counts.get("pending", 0) == 0


def test_autoscaler_never_exceeds_its_cap(stack_settings, tmp_path, vtest_h264, device_auth):
    stack_settings.autoscaler.max_workers = 2
    aws = Aws(stack_settings.aws)
    seen = []
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            c = fleet_counts(aws, stack_settings.fleet.name)
            seen.append(c.get("pending", 0) + c.get("running", 0))
            stop.wait(0.2)

    with ControllerProcess(stack_settings, tmp_path) as controller:
        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        ids = [
            post_clip(controller.url, vtest_h264, headers=device_auth, content_type="video/h264", fps=10)
            for _ in range(6)
        ]
        bodies = [wait_done(controller.url, i, device_auth, timeout=180) for i in ids]
        stop.set()
        watcher.join()
    assert all(b["status"] == "done" for b in bodies), bodies
    assert max(seen) >= 1, "the autoscaler launched no worker"
    assert max(seen) <= 2, f"fleet reached {max(seen)} workers with max_workers=2"
