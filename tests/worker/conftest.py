"""Fixtures for the worker: queued jobs for real clips on in-process moto."""
from __future__ import annotations

from pathlib import Path

import pytest

from edgecloud.jobs import CLIP_TYPES, Job, clip_key, new_clip_id, utcnow


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
        job = Job(clip_id=clip_id, bucket=settings.storage.clips_bucket, key=key, device_id="pi-01", fps=fps,
                  content_type=content_type, recorded_at=now, submitted_at=now)
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
