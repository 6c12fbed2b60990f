"""Two controller processes, one embedded AWS, one shared clip ledger (DynamoDB): a clip
uploaded to either is finished by a worker and answered by the other, and a ``?wait=`` on
one wakes within about a second of a completion the other consumed.

A runs the workers and consumes every completion; B serves the same API with no workers
and its own (empty) completions queue, so every answer B gives was written by A: each
wake on B is a cross-controller one, measured against the moment the row turned final.
Run with ``-s`` to see the figures."""

import json
import statistics
import threading
import time

import pytest
import requests

from edgecloud.aws import Aws
from edgecloud.clip_table import ensure_table
from edgecloud.clock import utcnow
from edgecloud.localcloud import ControllerProcess
from edgecloud.protocol.ids import new_clip_id
from edgecloud.provision import ensure_queue

pytestmark = pytest.mark.slow
CLIPS = 4


def upload(url, clip, headers):
    clip_id = new_clip_id("pi-01")
    meta = {
        "clip_id": clip_id,
        "device_id": "pi-01",
        "recorded_at": utcnow().isoformat(),
        "fps": 10,
        "content_type": "video/h264",
    }
    with open(clip, "rb") as fh:
        r = requests.post(
            f"{url}/v1/clips",
            files={"clip": (clip.name, fh, "video/h264")},
            data={"metadata": json.dumps(meta)},
            headers=headers,
            timeout=30,
        )
    assert r.status_code == 201, r.text
    return clip_id


def answer(url, clip_id, headers, answered: dict, timeout=240):
    """Long-poll until final; record when the answer came."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        body = requests.get(f"{url}/v1/clips/{clip_id}", params={"wait": 30}, headers=headers, timeout=60).json()
        if body["status"] in ("done", "failed"):
            answered[clip_id] = (time.monotonic(), body)
            return


def watch_final(aws, table, clip_ids, became_final: dict, stop: threading.Event):
    """When each clip's row turned final, seen by reading the table itself every 20 ms."""
    while not stop.is_set():
        pending = [c for c in clip_ids if c not in became_final]
        if pending:
            reply = aws.dynamodb.batch_get_item(
                RequestItems={table: {"Keys": [{"clip_id": {"S": c}} for c in pending], "ConsistentRead": True}}
            )
            now = time.monotonic()
            for item in reply["Responses"][table]:
                if item["status"]["S"] in ("done", "failed"):
                    became_final.setdefault(item["clip_id"]["S"], now)
        stop.wait(0.02)


def test_clips_uploaded_to_either_controller_are_answered_by_the_other(
    stack_settings, tmp_path, vtest_h264, device_auth
):
    tag = stack_settings.fleet.name.removeprefix("fleet-")
    a_settings = stack_settings.model_copy(deep=True)
    a_settings.controller.ledger = "dynamodb"
    a_settings.tables.clips = f"clips-{tag}"
    b_settings = a_settings.model_copy(deep=True)
    b_settings.autoscaler.max_workers = 0
    b_settings.fleet.name = f"fleet-b-{tag}"
    b_settings.queues.completions = f"done-b-{tag}"
    b_settings.controller.data_dir = tmp_path / "b" / "controller"
    aws = Aws(a_settings.aws)
    ensure_table(aws, a_settings.tables.clips)
    ensure_queue(aws.sqs, b_settings.queues.completions, {})

    answered, became_final, stop = {}, {}, threading.Event()
    with ControllerProcess(a_settings, tmp_path / "a") as a, ControllerProcess(b_settings, tmp_path / "b") as b:
        turns = [(a, b), (b, a)] * (CLIPS // 2)  # (took the upload, answers it)
        uploaded = [(upload(took.url, vtest_h264, device_auth), other) for took, other in turns]
        watcher = threading.Thread(
            target=watch_final,
            daemon=True,
            args=(aws, a_settings.tables.clips, [c for c, _ in uploaded], became_final, stop),
        )
        watcher.start()
        waits = [
            threading.Thread(target=answer, args=(other.url, clip_id, device_auth, answered))
            for clip_id, other in uploaded
        ]
        for t in waits:
            t.start()
        for t in waits:
            t.join(300)
        stop.set()
        watcher.join()
        # A plain GET on the controller that did not take the upload sees the same finished clip.
        for clip_id, other in uploaded:
            body = requests.get(f"{other.url}/v1/clips/{clip_id}", headers=device_auth, timeout=10).json()
            assert body["status"] == "done" and body["processed_by"] == answered[clip_id][1]["processed_by"]

    assert sorted(answered) == sorted(c for c, _ in uploaded), "a clip was never answered by the other controller"
    assert all(body["status"] == "done" and body["processed_by"].startswith("i-") for _, body in answered.values())
    delays = {c: answered[c][0] - became_final[c] for c, _ in uploaded}
    across = [delays[c] for c, other in uploaded if other is b]  # A consumed it, B answered
    local = [delays[c] for c, other in uploaded if other is a]
    print(
        f"\ntwo controllers: {CLIPS} clips, {len(answered)} answered by the other controller; "
        f"?wait= on B woken by A's completion after median {statistics.median(across):.2f} s, "
        f"max {max(across):.2f} s; on A (its own completion) median {statistics.median(local):.2f} s"
    )
    assert max(across) < 2.0, f"a ?wait= on B woke {max(across):.2f} s after A finished the clip"
    assert not list(tmp_path.rglob("ledger-v2.sqlite3")), "a controller kept its clips in a local file"
