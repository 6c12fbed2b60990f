"""Fixtures for the worker: queued jobs for real clips on in-process moto."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edgecloud.clock import utcnow
from edgecloud.protocol.containers import CLIP_TYPES
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.keys import clip_key, result_key
from edgecloud.protocol.messages import Job, Result
from edgecloud.worker.main import Worker


@pytest.fixture
def enqueue(settings, mocked_aws):
    """Store a clip (path or bytes) in S3 and queue its Job, as the controller does; returns the Job."""
    aws, queues = mocked_aws

    def put(clip, content_type="video/mp4", fps=None, upload=True) -> Job:
        clip_id = new_clip_id("pi-01")
        key = clip_key(clip_id, CLIP_TYPES[content_type])
        if upload:
            body = Path(clip).read_bytes() if isinstance(clip, (str, Path)) else clip
            aws.s3.put_object(Bucket=settings.storage.clips_bucket, Key=key, Body=body, ContentType=content_type)
        now = utcnow()
        job = Job(
            clip_id=clip_id,
            bucket=settings.storage.clips_bucket,
            key=key,
            device_id="pi-01",
            fps=fps,
            content_type=content_type,
            recorded_at=now,
            submitted_at=now,
        )
        aws.sqs.send_message(QueueUrl=queues.jobs, MessageBody=job.model_dump_json())
        return job

    return put


@pytest.fixture
def instance_id(mocked_aws):
    """A worker instance registered in moto's EC2, as the local fleet would launch it."""
    aws, _ = mocked_aws
    ami = aws.ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    return aws.ec2.run_instances(ImageId=ami, MinCount=1, MaxCount=1)["Instances"][0]["InstanceId"]


@pytest.fixture
def messages(mocked_aws):
    """Receive every message now on a queue (by role) and return their bodies."""
    aws, queues = mocked_aws

    def receive(role: str) -> list[str]:
        url = getattr(queues, role)
        found = []
        while True:
            got = aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            if not got.get("Messages"):
                return found
            found += [m["Body"] for m in got["Messages"]]

    return receive


@pytest.fixture
def make_worker(settings, mocked_aws):
    """A worker on the moto queues that polls without waiting; keyword arguments go to Worker."""
    aws, queues = mocked_aws
    settings.worker.wait_seconds = 0

    def make(**kwargs) -> Worker:
        return Worker(settings, aws, queues=queues, **kwargs)

    return make


@pytest.fixture
def stored_result():
    """``stored_result(aws, settings, clip_id)``: the clip's result as the worker wrote it to S3."""

    def read(aws, settings, clip_id) -> Result:
        body = aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=result_key(clip_id))["Body"].read()
        return Result.model_validate_json(body)

    return read


class FakeImds(BaseHTTPRequestHandler):
    """Answers like IMDSv2 with HttpTokens=required: no token, no metadata."""

    TOKEN = "tok-123"
    requests: list[str] = []
    lifecycle: list[str] = []  # target lifecycle states to answer, one per request; none: not in a group

    def do_PUT(self):
        self.requests.append(f"PUT {self.path}")
        if self.path == "/latest/api/token" and self.headers.get("X-aws-ec2-metadata-token-ttl-seconds"):
            self._answer(200, self.TOKEN)
        else:
            self._answer(400, "")

    def do_GET(self):
        self.requests.append(f"GET {self.path}")
        if self.headers.get("X-aws-ec2-metadata-token") != self.TOKEN:
            self._answer(401, "")
        elif self.path == "/latest/meta-data/instance-id":
            self._answer(200, "i-0123456789abcdef0")
        elif self.path == "/latest/meta-data/autoscaling/target-lifecycle-state" and self.lifecycle:
            self._answer(200, self.lifecycle.pop(0))
        else:
            self._answer(404, "")

    def _answer(self, status, body):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def imds():
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeImds)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    FakeImds.requests = []
    FakeImds.lifecycle = []
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def fake_imds():
    """The fake IMDS's handler class: the requests it saw, the lifecycle states it will answer."""
    return FakeImds
