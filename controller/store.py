"""The controller's S3 and SQS operations, so views never touch boto3.

Every key comes from ``edgecloud.jobs`` and a validated clip id.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import BinaryIO, Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, Queues, is_missing
from edgecloud.config import Settings
from edgecloud.jobs import CLIP_TYPES, Job, clip_key, utcnow
from edgecloud.results import ResultStore

log = logging.getLogger(__name__)

class ClipStore:
    """Clips in S3 (results through ``results``), jobs and retire asks in SQS."""

    def __init__(self, aws: Aws, queues: Queues, settings: Settings):
        self.aws = aws
        self.queues = queues
        self.clips_bucket = settings.storage.clips_bucket
        self.results_bucket = settings.storage.results_bucket
        self.results = ResultStore(aws.s3, self.results_bucket)

    def clip_exists(self, clip_id: str, content_type: str) -> bool:
        try:
            self.aws.s3.head_object(Bucket=self.clips_bucket, Key=clip_key(clip_id, CLIP_TYPES[content_type]))
        except ClientError as err:
            if is_missing(err):
                return False
            raise
        return True

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

    def delete_clip(self, clip_id: str, content_type: str) -> None:
        self.aws.s3.delete_object(Bucket=self.clips_bucket, Key=clip_key(clip_id, CLIP_TYPES[content_type]))

    def put_clip(self, clip_id: str, body: BinaryIO, content_type: str, metadata: dict[str, str]) -> str:
        """Store the clip with its recording's metadata; returns its key."""
        key = clip_key(clip_id, CLIP_TYPES[content_type])
        self.aws.s3.upload_fileobj(
            body, self.clips_bucket, key,
            ExtraArgs={"ContentType": content_type, "Metadata": metadata},
        )
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
            attrs.get("ApproximateNumberOfMessagesNotVisible", 0))

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
