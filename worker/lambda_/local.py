"""The function deployed on this machine: the emulated function plus the event
sources the stack gives it on AWS, against the embedded AWS.

* the jobs queue's event source mapping: ``max_concurrency`` pollers (the
  mapping's maximum concurrency, from ``autoscaler.max_workers``), each
  invoking with up to ``function.batch_size`` records;
* the frames bucket's notification: moto cannot invoke a function, so the
  bucket notifies a queue with S3's own event JSON, and a poller hands each
  event to the function.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

from edgecloud.aws import Aws
from edgecloud.config import Settings
from edgecloud.protocol.keys import KeyKind

from .emulator import LocalFunction
from .sources import EventSources, S3EventSource, SqsEventSource


def frame_events_queue(settings: Settings) -> str:
    return f"{settings.function.name}-frame-events"


def notify_queue_of_frames(aws: Aws, settings: Settings) -> str:
    """Point the frames bucket's ObjectCreated notification (frames/ only) at a queue; its URL."""
    sqs = aws.sqs
    url = sqs.create_queue(QueueName=frame_events_queue(settings))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "s3.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{settings.storage.frames_bucket}"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    aws.s3.put_bucket_notification_configuration(
        Bucket=settings.storage.frames_bucket,
        NotificationConfiguration={
            "QueueConfigurations": [
                {
                    "QueueArn": arn,
                    "Events": ["s3:ObjectCreated:*"],
                    "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": f"{KeyKind.FRAMES}/"}]}},
                }
            ]
        },
    )
    return url


class LocalDeployment:
    """``with LocalDeployment(settings, zip, workdir):`` the function serves jobs (and frames) until exit."""

    def __init__(
        self,
        settings: Settings,
        zip_path: Path,
        workdir: Path,
        *,
        frames: bool = True,
        aws: Optional[Aws] = None,
        max_concurrency: Optional[int] = None,
    ):
        self.settings = settings
        self.aws = aws or Aws(settings.aws)
        self.function = LocalFunction(settings, zip_path, workdir, aws=self.aws, max_concurrency=max_concurrency)
        jobs = self.aws.sqs.get_queue_url(QueueName=settings.queues.jobs)["QueueUrl"]
        pollers = [
            SqsEventSource(self.function, jobs, settings.function.batch_size)
            for _ in range(self.function.max_concurrency)
        ]
        if frames:
            events = notify_queue_of_frames(self.aws, settings)
            pollers += [S3EventSource(self.function, events, 1) for _ in range(self.function.max_concurrency)]
        self.sources = EventSources(pollers)

    def __enter__(self):
        self.sources.__enter__()
        return self

    def __exit__(self, *exc):
        self.sources.__exit__(*exc)
        self.function.close()
