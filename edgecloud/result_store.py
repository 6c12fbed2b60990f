"""Results in S3: the one place that reads a clip's result and writes it first-write-wins.

Workers and the controller both write results; a job may be delivered twice
and the Pi's result may race a worker's, so a write never replaces a readable
result that is already there (S3's conditional put, ``If-None-Match: *``).
The one way past a final result: ``set_aside`` a failed one (``clips retry``),
which replaces it with a record that is not a result (it keeps the failure),
so the clip's next result is written over it. The controller deletes nothing.
"""

from __future__ import annotations

import json
import logging
from typing import Optional

from botocore.exceptions import ClientError
from pydantic import ValidationError

from .aws import error_code, is_missing
from .clock import utcnow
from .protocol.keys import result_key, snapshot_key
from .protocol.messages import Result

log = logging.getLogger(__name__)

SET_ASIDE = "set_aside_at"  # the key of a record that stands where a failed result was
# S3 answers a conditional put that lost with 412, or 409 while another write is in flight.
_LOST_RACE = frozenset({"PreconditionFailed", "ConditionalRequestConflict"})


class ResultStore:
    """``get`` / ``put_first`` / ``put`` on one results bucket."""

    def __init__(self, s3, bucket: str):
        self.s3 = s3
        self.bucket = bucket

    def get(self, clip_id: str) -> Optional[Result]:
        """The stored result; None when there is none, or what is there is not a result
        (not ours to trust: a new result may then replace it)."""
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=result_key(clip_id))["Body"].read()
        except ClientError as err:
            if is_missing(err):
                return None
            raise
        try:
            return Result.model_validate_json(body)
        except ValidationError as err:
            if not _set_aside(body):
                log.warning("unreadable result for %s ignored: %s", clip_id, err.errors()[0]["msg"])
            return None

    def set_aside(self, clip_id: str) -> bool:
        """Make way for a failed clip's next result: its failed result is replaced by a record that
        is not a result (``{"set_aside_at", "failed"}``). False when what is stored is a result
        that is not failed (it stands); True when none is there now."""
        existing = self.get(clip_id)
        if existing is None:
            return True
        if existing.status != "failed":
            return False
        record = {SET_ASIDE: utcnow().isoformat(), "failed": existing.model_dump(mode="json")}
        self.s3.put_object(
            Bucket=self.bucket,
            Key=result_key(clip_id),
            Body=json.dumps(record).encode(),
            ContentType="application/json",
        )
        return True

    def put(self, result: Result) -> str:
        """Write unconditionally (a final verdict that must replace what is there); returns the key."""
        key = result_key(result.clip_id)
        self.s3.put_object(
            Bucket=self.bucket, Key=key, Body=result.model_dump_json().encode(), ContentType="application/json"
        )
        return key

    def put_snapshot(self, clip_id: str, data: bytes) -> str:
        """Store a clip's snapshot JPEG beside its result; returns its key."""
        key = snapshot_key(clip_id)
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, ContentType="image/jpeg")
        return key

    def put_if_new(self, result: Result) -> bool:
        """Write only where no object is stored; True if this write landed."""
        try:
            self.s3.put_object(
                Bucket=self.bucket,
                Key=result_key(result.clip_id),
                Body=result.model_dump_json().encode(),
                ContentType="application/json",
                IfNoneMatch="*",
            )
        except ClientError as err:
            if error_code(err) in _LOST_RACE:
                return False
            raise
        return True

    def put_first(self, result: Result) -> Result:
        """Write unless a readable result exists (first write wins); returns the one stored."""
        if self.put_if_new(result):
            return result
        existing = self.get(result.clip_id)
        if existing is not None:
            return existing
        self.put(result)  # what was there is not a result: replace it
        return result


def _set_aside(body: bytes) -> bool:
    """Whether what is stored is a failed result set aside (not a result, and not worth a warning)."""
    try:
        record = json.loads(body)
    except ValueError:
        return False
    return isinstance(record, dict) and SET_ASIDE in record
