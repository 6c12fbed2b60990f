"""Fixtures for the Lambda engine: Lambda's context object, SQS event records, the built zip."""

from __future__ import annotations

import contextlib
import fcntl
import json
import sys
import time
import uuid
from pathlib import Path

import pytest

from edgecloud.clock import utcnow
from edgecloud.protocol.containers import CLIP_TYPES
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.keys import clip_key
from edgecloud.protocol.messages import Job
from edgecloud.worker.lambda_.runtime import Context

REPO = Path(__file__).resolve().parents[2]
# Built once per test run; the wheels stay cached under the repo's ignored var/ between runs.
WHEELS = REPO / "var" / "lambda" / "wheels"
# A bucket name botocore refuses before sending: an error outside the clip, which a retry may cure.
UNREACHABLE = "not a bucket!"


@contextlib.contextmanager
def wheel_cache():
    """WHEELS, held by one `lambda package` at a time: xdist's workers would otherwise download into it together."""
    WHEELS.mkdir(parents=True, exist_ok=True)
    with open(WHEELS / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield WHEELS


def make_context(timeout_s: float = 60.0) -> Context:
    """Lambda's context object, as the emulated runtime makes it."""
    return Context(
        {
            "request_id": str(uuid.uuid4()),
            "function_name": "edgecloud-worker",
            "memory_mb": 2048,
            "deadline_ms": time.time() * 1000 + timeout_s * 1000,
        }
    )


@pytest.fixture
def job_for(settings, mocked_aws):
    """Store a clip in S3 and return its Job (not queued), as the controller would make it."""
    aws, _ = mocked_aws

    def make(clip: Path | None, bucket: str | None = None) -> Job:
        clip_id = new_clip_id("pi-01")
        key = clip_key(clip_id, CLIP_TYPES["video/mp4"])
        if clip is not None:
            aws.s3.put_object(Bucket=settings.storage.clips_bucket, Key=key, Body=clip.read_bytes())
        now = utcnow()
        return Job(
            clip_id=clip_id,
            bucket=bucket or settings.storage.clips_bucket,
            key=key,
            device="pi-01",
            recorded_at=now,
            submitted_at=now,
        )

    return make


def sqs_event(*bodies: str, receive_count: int = 1) -> dict:
    """Lambda's SQS event for these message bodies."""
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": uuid.uuid4().hex,
                "body": body,
                "attributes": {"ApproximateReceiveCount": str(receive_count)},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:edgecloud-jobs",
                "awsRegion": "us-east-1",
            }
            for body in bodies
        ]
    }


def completions(aws, queues) -> list[dict]:
    found = []
    while True:
        got = aws.sqs.receive_message(QueueUrl=queues.completions, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return found
        found += [json.loads(m["Body"]) for m in got]


@pytest.fixture(scope="session")
def local_zip(tmp_path_factory) -> Path:
    """The deployment zip for this machine's Python (the emulation imports it), built with the real command."""
    from click.testing import CliRunner

    from edgecloud.cli import cli

    out = tmp_path_factory.mktemp("lambda")
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    with wheel_cache() as cache:
        result = CliRunner().invoke(
            cli,
            [
                "lambda",
                "package",
                "--out",
                str(out / "function.zip"),
                "--json",
                str(out / "package.json"),
                "--python-version",
                version,
                "--cache",
                str(cache),
            ],
        )
    assert result.exit_code == 0, result.output
    return out / "function.zip"
