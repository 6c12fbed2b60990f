"""Making the resources a local cloud needs (demo, tests, ``controller serve --ensure-resources``):
buckets, queues, tables and the topic. On AWS, infra/ creates them from its template."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from . import clip_table, credentials, event_table, workers
from .aws import Aws, Queues, error_code
from .config import Settings
from .dynamo_table import ensure_dynamodb_table

# The retire queue holds retire asks: SQS's shortest retention, so an ask no
# idle worker took within a minute expires instead of ending a worker that a
# later load needs; a received ask hides briefly while its worker retires.
RETIRE_ASK_RETENTION_S = 60
RETIRE_ASK_VISIBILITY_S = 10


def ensure_queue(sqs, name: str, attributes: dict[str, str]) -> str:
    """Create the queue, or bring an existing one to these attributes (SQS refuses a create that
    differs from what is there, e.g. after a visibility timeout was changed); returns its URL."""
    try:
        return sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    except ClientError as err:
        if error_code(err) not in {"QueueAlreadyExists", "QueueNameExists"}:
            raise
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    if attributes:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)
    return url


def ensure_resources(aws: Aws, settings: Settings) -> Queues:
    """Create the buckets, queues and tables if missing (demo, tests). On AWS, infra/ creates them."""
    s3 = aws.s3
    for bucket in {settings.storage.clips_bucket, settings.storage.results_bucket, settings.storage.frames_bucket}:
        kwargs: dict[str, Any] = {"Bucket": bucket}
        if settings.aws.region != "us-east-1":
            kwargs["CreateBucketConfiguration"] = {"LocationConstraint": settings.aws.region}
        try:
            s3.create_bucket(**kwargs)
        except (s3.exceptions.BucketAlreadyOwnedByYou, s3.exceptions.BucketAlreadyExists):
            pass
    q = settings.queues
    sqs = aws.sqs
    dlq_url = ensure_queue(sqs, q.dead_letter, {"MessageRetentionPeriod": "1209600"})
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    ensure_queue(
        sqs,
        q.jobs,
        {
            "VisibilityTimeout": str(q.visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(q.max_receive)}),
        },
    )
    ensure_queue(sqs, q.completions, {})
    ensure_queue(
        sqs,
        q.retire,
        {
            "MessageRetentionPeriod": str(RETIRE_ASK_RETENTION_S),
            "VisibilityTimeout": str(RETIRE_ASK_VISIBILITY_S),
        },
    )
    credentials.ensure_table(aws, settings.tables.credentials)
    topic = settings.notify.sns_topic
    if topic and not topic.startswith("arn:"):
        aws.sns.create_topic(Name=topic)  # idempotent
    ensure_dynamodb_table(aws, settings.tables.faces, "name")
    workers.ensure_table(aws, settings.tables.workers)
    clip_table.ensure_table(aws, settings.tables.clips)
    event_table.ensure_table(aws, settings.tables.events)
    ensure_dynamodb_table(aws, settings.tables.leases, "lease")  # who runs the autoscaler (controller/lease.py)
    # Dashboard sessions, in Flask-Session's DynamoDB layout (controller/dashboard/sessions.py).
    ensure_dynamodb_table(aws, settings.tables.sessions, "id", expires_attribute="expiration")
    return Queues(aws, settings)
