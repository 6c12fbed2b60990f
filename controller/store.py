"""The controller's S3 and SQS operations, so views never touch boto3.

Every key comes from ``edgecloud.protocol.keys`` and a validated clip id.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import BinaryIO, Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, Queues, error_code, is_missing
from edgecloud.clock import utcnow
from edgecloud.config import Settings
from edgecloud.protocol.containers import CLIP_TYPES
from edgecloud.protocol.keys import clip_key, snapshot_key
from edgecloud.protocol.messages import Job
from edgecloud.result_store import ResultStore

log = logging.getLogger(__name__)


class ClipStore:
    """Clips in S3 (results through ``results``), jobs and retire asks in SQS."""

    def __init__(self, aws: Aws, queues: Queues, settings: Settings):
        self.aws = aws
        self.queues = queues
        self.clips_bucket = settings.storage.clips_bucket
        self.results_bucket = settings.storage.results_bucket
        self.results = ResultStore(aws.s3, self.results_bucket)
        self.link_ttl_s = settings.controller.link_ttl_s
        self._clip_keys: dict[str, str] = {}

    def find_clip(self, clip_id: str) -> Optional[tuple[str, dict]]:
        """(content type, S3 head) of the stored clip, whatever its type; None if it is not in S3."""
        for content_type, ext in CLIP_TYPES.items():
            try:
                head = self.aws.s3.head_object(Bucket=self.clips_bucket, Key=clip_key(clip_id, ext))
            except ClientError as err:
                if is_missing(err):
                    continue
                raise
            return content_type, head
        return None

    def clip_stored_at(self, clip_id: str) -> Optional[datetime]:
        """When the clip was stored, whatever its type; None if it is not in S3."""
        found = self.find_clip(clip_id)
        return found[1]["LastModified"] if found else None

    def clip_url(self, clip_id: str, ttl_s: Optional[int] = None) -> Optional[str]:
        """A presigned GET of the stored clip; None when it is not in S3."""
        key = self._clip_keys.get(clip_id)
        if key is None:
            found = self.find_clip(clip_id)
            if found is None:
                return None
            if len(self._clip_keys) > 10_000:
                self._clip_keys.clear()
            key = self._clip_keys[clip_id] = clip_key(clip_id, CLIP_TYPES[found[0]])  # a stored clip never changes
        return self.link(self.clips_bucket, key, ttl_s)

    def snapshot_url(self, key: str, ttl_s: Optional[int] = None) -> str:
        return self.link(self.results_bucket, key, ttl_s)

    def snapshot(self, clip_id: str) -> Optional[tuple[bytes, str]]:
        """(JPEG bytes, S3 ETag) of the clip's snapshot; None when it has none."""
        try:
            got = self.aws.s3.get_object(Bucket=self.results_bucket, Key=snapshot_key(clip_id))
        except ClientError as err:
            if is_missing(err):
                return None
            raise
        return got["Body"].read(), got["ETag"].strip('"')

    def link(self, bucket: str, key: str, ttl_s: Optional[int] = None) -> str:
        """A presigned S3 GET: the browser fetches the bytes from S3, not through the controller."""
        return self.aws.s3.generate_presigned_url(
            "get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=ttl_s or self.link_ttl_s
        )

    def delete_clip(self, clip_id: str, content_type: str) -> None:
        self.aws.s3.delete_object(Bucket=self.clips_bucket, Key=clip_key(clip_id, CLIP_TYPES[content_type]))

    def put_clip(self, clip_id: str, body: BinaryIO, content_type: str, metadata: dict[str, str]) -> Optional[str]:
        """Store the clip with its recording's metadata unless it is stored already; returns its key,
        or None when a clip was there before (one conditional PUT: no HEAD first, no transfer threads)."""
        key = clip_key(clip_id, CLIP_TYPES[content_type])
        try:
            self.aws.s3.put_object(
                Bucket=self.clips_bucket,
                Key=key,
                Body=body,
                ContentType=content_type,
                Metadata=metadata,
                IfNoneMatch="*",
            )
        except ClientError as err:
            if error_code(err) == "PreconditionFailed":
                return None
            raise
        return key

    def send_job(self, job: Job) -> str:
        return self.aws.sqs.send_message(QueueUrl=self.queues.jobs, MessageBody=job.model_dump_json())["MessageId"]

    def queue_depth(self) -> dict[str, int]:
        """Jobs waiting (visible) and held by a worker (in flight); approximate, as SQS says."""
        attrs = self.aws.sqs.get_queue_attributes(
            QueueUrl=self.queues.jobs,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return {
            "visible": int(attrs.get("ApproximateNumberOfMessages", 0)),
            "in_flight": int(attrs.get("ApproximateNumberOfMessagesNotVisible", 0)),
        }

    def retire_asks_outstanding(self) -> int:
        """Asks on the retire queue no worker has acted on: waiting, plus taken by a
        worker that is retiring now (it deletes the ask once it has left the fleet,
        so a worker is never counted both as still here and as its ask gone)."""
        attrs = self.aws.sqs.get_queue_attributes(
            QueueUrl=self.queues.retire,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs.get("ApproximateNumberOfMessages", 0)) + int(
            attrs.get("ApproximateNumberOfMessagesNotVisible", 0)
        )

    def ask_to_retire(self, n: int, reason: str = "surplus") -> int:
        """Put ``n`` retire asks on the retire queue (any idle worker may take one); returns how many were sent."""
        sent = 0
        body = json.dumps({"version": 1, "reason": reason, "at": utcnow().isoformat()})
        while sent < n:
            batch = [{"Id": str(i), "MessageBody": body} for i in range(min(10, n - sent))]  # SQS's batch limit
            reply = self.aws.sqs.send_message_batch(QueueUrl=self.queues.retire, Entries=batch)
            sent += len(reply.get("Successful", []))
            if reply.get("Failed"):
                log.warning("%d retire asks not sent: %s", len(reply["Failed"]), reply["Failed"][0].get("Message"))
                break
        return sent
