"""The per-frame path's two doors (edge.mode frames), on the API's blueprint.

``POST /v1/frames/upload`` gives a device a presigned POST to the frames bucket
for one frame: one exact key the controller names (``frames/<device>/.../<frame
id>.jpg``), only JPEG, at most ``controller.max_frame_kb``, valid
``controller.frame_post_ttl_s``, so a grant stores one object and each frame
costs its device a request. The Pi posts the frame straight to S3 with it; the
bucket's notification starts the function. ``GET
/v1/frames/answers?device_id=&wait=`` long-polls that device's answers queue
(made here on first use) and hands back what the function said.
"""
from __future__ import annotations

import logging
import time
from functools import lru_cache

from flask import jsonify, request
from pydantic import BaseModel, ValidationError, field_validator

from edgecloud.protocol.ids import check_device_id, new_clip_id
from edgecloud.protocol.keys import frame_key
from edgecloud.protocol.messages import FrameAnswer

from .api import bp, requesting_device
from .errors import Refused
from .wait_param import wait_seconds
from .upload_form import pydantic_message
from .resources import get_aws, get_settings

log = logging.getLogger(__name__)
JPEG = "image/jpeg"
MAX_ANSWERS = 10  # one SQS receive
MAX_SQS_WAIT_S = 20  # the longest an SQS receive waits


class FrameRequest(BaseModel):
    device_id: str

    @field_validator("device_id")
    @classmethod
    def _device_id(cls, v: str) -> str:
        return check_device_id(v)


def _device() -> str:
    raw = request.get_json(silent=True) if request.method == "POST" else request.args.to_dict()
    try:
        claimed = FrameRequest.model_validate(raw or {}).device_id
    except ValidationError as err:
        raise Refused(f"bad frame request: {pydantic_message(err)}") from None
    return requesting_device(claimed)


def answers_queue_url(device: str) -> str:
    settings = get_settings()
    return _queue(get_aws(), f"{settings.queues.frame_answers}-{device}")


@lru_cache(maxsize=1024)
def _queue(aws, name: str) -> str:
    # CreateQueue returns the existing queue's URL when the attributes match: safe on every first use.
    return aws.sqs.create_queue(QueueName=name)["QueueUrl"]


def _receive(sqs, device: str, wait: int) -> tuple[str, list[dict]]:
    """(queue URL, messages) of the device's answers queue, made again when it was deleted since its URL
    was cached. (Real SQS refuses a name deleted in the last 60 s: a 503 until then.)"""
    url = answers_queue_url(device)
    try:
        return url, _messages(sqs, url, wait)
    except sqs.exceptions.QueueDoesNotExist:
        log.warning("the answers queue of %s was gone: making it again", device)
    _queue.cache_clear()  # one entry cannot be dropped; the others cost one idempotent CreateQueue each
    url = answers_queue_url(device)
    return url, _messages(sqs, url, wait)


def _messages(sqs, url: str, wait: int) -> list[dict]:
    return sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=MAX_ANSWERS, WaitTimeSeconds=wait).get("Messages", [])


@bp.post("/v1/frames/upload")
def frame_upload():
    """A presigned POST for one frame of this device, under a key named here."""
    device = _device()
    settings = get_settings()
    frame_id = new_clip_id(device)
    key = frame_key(frame_id)
    max_bytes = settings.controller.max_frame_kb * 1024
    ttl = settings.controller.frame_post_ttl_s
    # A key without ${filename} is an exact {"key": ...} condition: the grant stores this object and no other.
    post = get_aws().s3.generate_presigned_post(
        Bucket=settings.storage.frames_bucket, Key=key, Fields={"Content-Type": JPEG},
        Conditions=[["content-length-range", 1, max_bytes], {"Content-Type": JPEG}], ExpiresIn=ttl)
    answers_queue_url(device)  # the function's answers need somewhere to go before the first frame lands
    return jsonify(url=post["url"], fields=post["fields"], frame_id=frame_id, key=key, max_bytes=max_bytes,
                   expires_at=round(time.time() + ttl, 3))


@bp.get("/v1/frames/answers")
def frame_answers():
    """The function's answers for this device, waiting up to ``wait`` seconds (at most 20) for one."""
    device = _device()
    wait = int(wait_seconds(MAX_SQS_WAIT_S))  # SQS waits in whole seconds
    sqs = get_aws().sqs
    url, messages = _receive(sqs, device, wait)
    answers = []
    for message in messages:
        try:
            answers.append(FrameAnswer.model_validate_json(message["Body"]).model_dump(mode="json"))
        except ValidationError:
            pass  # not an answer: dropped below, never handed to a Pi
    if messages:
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return jsonify(answers=answers)
