"""Event sources of the emulated function, as Lambda runs them.

``SqsEventSource`` is one poller of an SQS event source mapping with
``ReportBatchItemFailures``: it receives up to ``batch_size`` messages, invokes
the function with Lambda's SQS event, deletes every record the function did
not report in ``batchItemFailures``, and deletes none when the invocation
failed (an error, a timeout, or a reply naming a record not in the batch).
What is not deleted reappears when its visibility timeout ends, and the queue's
redrive policy dead-letters it after ``max_receive`` tries, as on AWS.

``S3EventSource`` stands in for the frames bucket's notification to the
function: the embedded S3 notifies an SQS queue (moto sends S3's own event
JSON there), and the poller invokes the function with that event.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading

from edgecloud.loops import BackgroundLoop

from .emulator import LocalFunction

log = logging.getLogger(__name__)

POLL_WAIT_S = 1  # long poll of one receive (Lambda's pollers use 20; short here so a stop is quick)


def sqs_record(message: dict, queue_arn: str, region: str) -> dict:
    """One record of Lambda's SQS event, from a ReceiveMessage message."""
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": message.get("Attributes", {}),
        "messageAttributes": message.get("MessageAttributes", {}),
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message["Body"].encode()).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_ids(reply: dict, batch: list[dict]) -> set[str]:
    """Message ids to leave on the queue: those reported failed, or all when the invocation failed."""
    every = {r["messageId"] for r in batch}
    if not reply.get("ok"):
        return every
    result = reply.get("result") or {}
    try:
        reported = {item["itemIdentifier"] for item in result.get("batchItemFailures") or []}
    except (AttributeError, KeyError, TypeError):
        return every  # a malformed response fails the whole batch, as on Lambda
    return every if reported - every else reported


class _Poller(BackgroundLoop):
    thread_name = "lambda-poller"

    def __init__(self, function: LocalFunction, queue_url: str, batch_size: int):
        super().__init__()
        self.function = function
        self.sqs = function.aws.sqs
        self.queue_url = queue_url
        self.batch_size = batch_size
        self.invocations = 0

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                messages = self.sqs.receive_message(
                    QueueUrl=self.queue_url,
                    MaxNumberOfMessages=self.batch_size,
                    WaitTimeSeconds=POLL_WAIT_S,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages", [])
                if messages:
                    self.deliver(messages)
            except Exception:
                log.exception("event source poll failed; polling again")
                stop.wait(1)

    def deliver(self, messages: list[dict]) -> None:
        raise NotImplementedError

    def _delete(self, messages: list[dict]) -> None:
        if messages:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)],
            )


class SqsEventSource(_Poller):
    """The jobs queue's event source mapping (one poller)."""

    def __init__(self, function: LocalFunction, queue_url: str, batch_size: int = 1):
        super().__init__(function, queue_url, batch_size)
        self.queue_arn = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]

    def deliver(self, messages: list[dict]) -> None:
        region = self.function.settings.aws.region
        batch = [sqs_record(m, self.queue_arn, region) for m in messages]
        invocation = self.function.invoke({"Records": batch})
        self.invocations += 1
        keep = failed_ids(invocation.reply, batch)
        self._delete([m for m in messages if m["MessageId"] not in keep])


class S3EventSource(_Poller):
    """The frames bucket's notification: S3 events the embedded S3 put on a queue, handed to the function."""

    def deliver(self, messages: list[dict]) -> None:
        for message in messages:
            event = json.loads(message["Body"])
            if "Records" not in event:  # S3's test event when the notification is configured
                self._delete([message])
                continue
            invocation = self.function.invoke(event)
            self.invocations += 1
            if invocation.ok:  # a failed one is retried, as Lambda retries an asynchronous invocation
                self._delete([message])


class EventSources:
    """Pollers started and stopped together (``with EventSources([...]):``)."""

    def __init__(self, pollers: list[_Poller]):
        self.pollers = pollers

    def __enter__(self):
        for poller in self.pollers:
            poller.start()
        return self

    def __exit__(self, *exc):
        for poller in self.pollers:
            poller._stop.set()
        for poller in self.pollers:
            poller.stop()
