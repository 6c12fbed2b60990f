"""Where the per-frame path's doors (controller/frames.py) keep things: the frames bucket a
device posts one frame to, and each device's answers queue (made on first use).

The views ask this store and never touch a client, as ``ClipStore`` serves the clip routes.
"""

from __future__ import annotations

import logging
import threading

from edgecloud.aws import Aws
from edgecloud.config import Settings

log = logging.getLogger(__name__)
JPEG = "image/jpeg"
MAX_ANSWERS = 10  # one SQS receive


class FrameStore:
    def __init__(self, aws: Aws, settings: Settings):
        self._aws = aws
        self._settings = settings
        self._lock = threading.Lock()
        self._urls: dict[str, str] = {}

    def presigned_post(self, key: str, *, max_bytes: int, ttl: int) -> dict:
        """A POST that stores one JPEG of at most ``max_bytes`` under exactly ``key`` within ``ttl`` s.
        (A key without ${filename} is an exact {"key": ...} condition: the grant stores this object and
        no other.)"""
        return self._aws.s3.generate_presigned_post(
            Bucket=self._settings.storage.frames_bucket,
            Key=key,
            Fields={"Content-Type": JPEG},
            Conditions=[["content-length-range", 1, max_bytes], {"Content-Type": JPEG}],
            ExpiresIn=ttl,
        )

    def answers_queue(self, device: str) -> str:
        """The URL of the device's answers queue, made if missing."""
        name = f"{self._settings.queues.frame_answers}-{device}"
        with self._lock:
            url = self._urls.get(name)
        if url is None:
            # CreateQueue returns the existing queue's URL when the attributes match: safe on every first use.
            url = self._aws.sqs.create_queue(QueueName=name)["QueueUrl"]
            with self._lock:
                self._urls[name] = url
        return url

    def take_answers(self, device: str, wait: int) -> list[str]:
        """The bodies of up to ten messages on the device's answers queue, waiting up to ``wait`` s for
        one; those returned are deleted from the queue."""
        sqs = self._aws.sqs
        url = self.answers_queue(device)
        try:
            messages = self._receive(url, wait)
        except sqs.exceptions.QueueDoesNotExist:
            # Deleted since its URL was cached. (Real SQS refuses a name deleted in the last 60 s: a 503 until then.)
            log.warning("the answers queue of %s was gone: making it again", device)
            with self._lock:
                self._urls.pop(f"{self._settings.queues.frame_answers}-{device}", None)
            url = self.answers_queue(device)
            messages = self._receive(url, wait)
        if messages:
            sqs.delete_message_batch(
                QueueUrl=url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )
        return [m["Body"] for m in messages]

    def _receive(self, url: str, wait: int) -> list[dict]:
        return self._aws.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=MAX_ANSWERS, WaitTimeSeconds=wait).get(
            "Messages", []
        )
