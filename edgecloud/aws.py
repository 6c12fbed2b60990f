"""The one seam to boto3: every AWS client comes from here, and only this module imports boto3.

``Aws(settings.aws)`` makes clients lazily from one boto3 session, all pointed
at ``endpoint_url`` when one is set (the embedded moto server), so the rest of
the code never builds a client or knows whether AWS is real. What is built on
it lives beside it by what it does: ``edgecloud.fleet_query`` (what EC2 says about
our workers), ``edgecloud.provision`` (making the buckets, queues and tables) and
``edgecloud.dynamo_table`` (making one table from its schema).
"""

from __future__ import annotations

import logging
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

log = logging.getLogger(__name__)

# The codes S3 gives for "no such object": GetObject says NoSuchKey, HeadObject a bare 404.
_MISSING_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


def is_missing(err: ClientError) -> bool:
    """True when an S3 call failed because the object (or key) does not exist."""
    return err.response.get("Error", {}).get("Code") in _MISSING_CODES


def error_code(err: ClientError) -> str:
    return err.response.get("Error", {}).get("Code", "")


def _log_failed_attempt(attempts, operation, caught_exception=None, response=None, **_) -> None:
    """botocore retries a call that timed out, lost its connection or met a server error without a word:
    each such attempt is logged, so a request that took 30 s (the read timeout) says why. Returns None:
    whether and when to retry stays the retry handler's decision."""
    status = response[0].status_code if response else None
    if caught_exception is None and (status is None or status < 500):
        return None
    service = operation.service_model.service_name
    log.warning("AWS %s.%s attempt %d failed: %s", service, operation.name, attempts, caught_exception or status)
    return None


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
                client = self._session.client(service, endpoint_url=self.settings.endpoint_url, config=config)
                client.meta.events.register("needs-retry", _log_failed_attempt)
                self._clients[service] = client
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
