"""The one seam to boto3: every AWS client comes from here.

``Aws(settings.aws)`` makes clients lazily from one boto3 session, all pointed
at ``endpoint_url`` when one is set (the embedded moto server), so the rest of
the code never builds a client or knows whether AWS is real.
"""
from __future__ import annotations

import json
import os
import threading
from functools import cached_property
from typing import Any

import boto3
from botocore.config import Config as BotoConfig
from botocore.exceptions import ClientError

from .config import AwsSettings, Settings

# Retries on throttling and connection drops, the standard way.
_BOTO_CONFIG = BotoConfig(retries={"max_attempts": 5, "mode": "standard"}, connect_timeout=5, read_timeout=30)
# Presigned links (video, snapshots) signed with SigV4, which every region accepts.
_S3_CONFIG = BotoConfig(signature_version="s3v4")

# The retire queue holds scale-in asks: SQS's shortest retention, so an ask no
# idle worker took within a minute expires instead of ending a worker that a
# later load needs; a received ask hides briefly while its worker retires.
RETIRE_ASK_RETENTION_S = 60
RETIRE_ASK_VISIBILITY_S = 10


# The codes S3 gives for "no such object": GetObject says NoSuchKey, HeadObject a bare 404.
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})

# Tags that mark our fleet's instances (set at launch, read by the fleet, teardown and the demo).
TAG_FLEET = "edgecloud:fleet"
TAG_ROLE = "edgecloud:role"
ROLE_WORKER = "worker"


def is_missing(err: ClientError) -> bool:
    """True when an S3 call failed because the object (or key) does not exist."""
    return err.response.get("Error", {}).get("Code") in _MISSING_CODES


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


class Aws:
    def __init__(self, settings: AwsSettings):
        self.settings = settings
        self._lock = threading.Lock()
        self._clients: dict[str, Any] = {}
        if settings.endpoint_url and not os.environ.get("AWS_ACCESS_KEY_ID"):
            # An embedded endpoint accepts any credentials; real AWS never gets here.
            self._session = boto3.session.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=settings.region
            )
        else:
            self._session = boto3.session.Session(region_name=settings.region)

    def client(self, service: str):
        # boto3 sessions are not thread-safe to create clients from; clients are.
        with self._lock:
            if service not in self._clients:
                config = _BOTO_CONFIG.merge(_S3_CONFIG) if service == "s3" else _BOTO_CONFIG
                self._clients[service] = self._session.client(
                    service, endpoint_url=self.settings.endpoint_url, config=config
                )
            return self._clients[service]

    @property
    def s3(self):
        return self.client("s3")

    @property
    def sqs(self):
        return self.client("sqs")

    @property
    def ec2(self):
        return self.client("ec2")

    @property
    def autoscaling(self):
        return self.client("autoscaling")

    @property
    def dynamodb(self):
        return self.client("dynamodb")

    @property
    def sns(self):
        return self.client("sns")

    @property
    def cloudwatch(self):
        return self.client("cloudwatch")

    @property
    def cloudformation(self):
        return self.client("cloudformation")

    @property
    def secretsmanager(self):
        return self.client("secretsmanager")

    def __repr__(self) -> str:
        return f"<Aws region={self.settings.region} endpoint={self.settings.endpoint_url or 'aws'}>"


def fleet_instances(aws: "Aws", fleet_name: str, states=None) -> dict[str, str]:
    """Instance id -> EC2 state of this fleet's workers, optionally only those in ``states``."""
    return {i["InstanceId"]: i["State"]["Name"] for i in describe_fleet(aws, fleet_name, states)}


def describe_fleet(aws: "Aws", fleet_name: str, states=None) -> list[dict]:
    """EC2's description of each of this fleet's workers (state, launch time, ...)."""
    filters = [{"Name": f"tag:{TAG_FLEET}", "Values": [fleet_name]},
               {"Name": f"tag:{TAG_ROLE}", "Values": [ROLE_WORKER]}]
    if states:
        filters.append({"Name": "instance-state-name", "Values": list(states)})
    return [instance for page in aws.ec2.get_paginator("describe_instances").paginate(Filters=filters)
            for reservation in page["Reservations"] for instance in reservation["Instances"]]


def ensure_dynamodb_table(aws: Aws, table: str, key: str, *, expires_attribute: str | None = None,
                          indexes: dict[str, tuple[str, str]] | None = None) -> bool:
    """Create an on-demand DynamoDB table with a string hash ``key`` if missing (demo, tests,
    --ensure-resources; True if made here), with TTL on ``expires_attribute`` when given, and
    ``indexes``: global secondary index name -> its (hash, range) string attributes, all projected."""
    indexes = indexes or {}
    names = sorted({key, *(a for pair in indexes.values() for a in pair)})
    extra: dict[str, Any] = {"GlobalSecondaryIndexes": [
        {"IndexName": name, "Projection": {"ProjectionType": "ALL"},
         "KeySchema": [{"AttributeName": h, "KeyType": "HASH"}, {"AttributeName": r, "KeyType": "RANGE"}]}
        for name, (h, r) in indexes.items()]} if indexes else {}
    try:
        aws.dynamodb.create_table(TableName=table, BillingMode="PAY_PER_REQUEST",
                                  AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in names],
                                  KeySchema=[{"AttributeName": key, "KeyType": "HASH"}], **extra)
    except ClientError as err:
        if error_code(err) != "ResourceInUseException":
            raise
        return False
    aws.dynamodb.get_waiter("table_exists").wait(TableName=table, WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    if expires_attribute:
        aws.dynamodb.update_time_to_live(TableName=table, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": expires_attribute})
    return True


def launch_times(aws: "Aws", instance_ids: list[str]) -> dict[str, Any]:
    """Instance id -> when EC2 launched it (timezone-aware), for those it still knows."""
    found: dict[str, Any] = {}
    if not instance_ids:
        return found
    for page in aws.ec2.get_paginator("describe_instances").paginate(InstanceIds=list(instance_ids)):
        for reservation in page["Reservations"]:
            for instance in reservation["Instances"]:
                found[instance["InstanceId"]] = instance["LaunchTime"]
    return found


class Queues:
    """Queue URLs by role, looked up once."""

    def __init__(self, aws: Aws, settings: Settings):
        self._aws = aws
        self._names = settings.queues

    def _url(self, name: str) -> str:
        return self._aws.sqs.get_queue_url(QueueName=name)["QueueUrl"]

    @cached_property
    def jobs(self) -> str:
        return self._url(self._names.jobs)

    @cached_property
    def completions(self) -> str:
        return self._url(self._names.completions)

    @cached_property
    def dead_letter(self) -> str:
        return self._url(self._names.dead_letter)

    @cached_property
    def retire(self) -> str:
        return self._url(self._names.retire)


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
        sqs, q.jobs, {
            "VisibilityTimeout": str(q.visibility_timeout),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(q.max_receive)}),
        },
    )
    ensure_queue(sqs, q.completions, {})
    ensure_queue(sqs, q.retire, {
        "MessageRetentionPeriod": str(RETIRE_ASK_RETENTION_S), "VisibilityTimeout": str(RETIRE_ASK_VISIBILITY_S),
    })
    from .clip_table import ensure_table as ensure_clips_table
    from .credentials import ensure_table
    from .workers import ensure_table as ensure_workers_table

    ensure_table(aws, settings.tables.credentials)
    topic = settings.notify.sns_topic
    if topic and not topic.startswith("arn:"):
        aws.sns.create_topic(Name=topic)  # idempotent
    ensure_dynamodb_table(aws, settings.tables.faces, "name")
    ensure_workers_table(aws, settings.tables.workers)
    ensure_clips_table(aws, settings.tables.clips)
    ensure_dynamodb_table(aws, settings.tables.leases, "lease")  # who runs the autoscaler (controller/lease.py)
    # Dashboard sessions, in Flask-Session's DynamoDB layout (controller/dashboard/sessions.py).
    ensure_dynamodb_table(aws, settings.tables.sessions, "id", expires_attribute="expiration")
    return Queues(aws, settings)
