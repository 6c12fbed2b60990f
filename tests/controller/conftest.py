"""Fixtures for the controller: an app on in-process moto, and a way to POST clips."""

from __future__ import annotations

import io
import json
import threading
from pathlib import Path

import pytest


@pytest.fixture
def app(controller_app):
    return controller_app


@pytest.fixture
def served(app):
    """The app on a real local port, for clients that speak HTTP; its URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def post_clip(client):
    """POST /v1/clips with a clip (a path or bytes), metadata and an optional result."""

    def post(clip, metadata, result=None, filename="clip.mp4", mimetype="video/mp4"):
        body = Path(clip).read_bytes() if isinstance(clip, (str, Path)) else clip
        data = {
            "clip": (io.BytesIO(body), filename, mimetype),
            "metadata": metadata if isinstance(metadata, str) else json.dumps(metadata),
        }
        if result is not None:
            data["result"] = result if isinstance(result, str) else result.model_dump_json()
        return client.post("/v1/clips", data=data, content_type="multipart/form-data")

    return post


@pytest.fixture
def jobs_in_queue(mocked_aws):
    """Receive (and hide) every job message now in the jobs queue."""
    aws, queues = mocked_aws

    def receive() -> list[dict]:
        found = []
        while True:
            batch = aws.sqs.receive_message(QueueUrl=queues.jobs, MaxNumberOfMessages=10, WaitTimeSeconds=0).get(
                "Messages", []
            )
            if not batch:
                return found
            found += [json.loads(m["Body"]) for m in batch]

    return receive


@pytest.fixture
def loop_parts(settings, mocked_aws, tmp_path):
    """(aws, queues, ledger, store, ec2 fleet) for a ScalingLoop on in-process moto: cap 3, no boot time."""
    from edgecloud.controller.fleet.ec2 import Ec2Fleet
    from edgecloud.controller.ledger import Ledger
    from edgecloud.controller.store import ClipStore

    aws, queues = mocked_aws
    settings.fleet.backend = "ec2"
    settings.fleet.ami_id = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    settings.autoscaler.max_workers = 3
    settings.autoscaler.boot_time_s = 0
    settings.autoscaler.target_latency_s = 10
    settings.autoscaler.process_time_s = 5
    ledger = Ledger.in_dir(tmp_path)
    yield aws, queues, ledger, ClipStore(aws, queues, settings), Ec2Fleet(settings, aws)
    ledger.close()
