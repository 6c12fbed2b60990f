"""The per-frame path's handler: one JPEG a Pi posted to the frames bucket in,
one ``FrameAnswer`` on that device's answers queue out.

The bucket's notification names the object; only a key that is exactly a
frame's key (``frames/<device>/<date>/<frame id>.jpg``) is read, so the device
the answer goes to is the one whose prefix the frame was posted under (a
presigned POST lets a device write under its own prefix only).
"""

from __future__ import annotations

import logging
import time
from functools import lru_cache
from urllib.parse import unquote_plus

import numpy as np

from edgecloud.protocol.ids import parse_clip_id
from edgecloud.protocol.keys import frame_id_of
from edgecloud.protocol.messages import FrameAnswer

log = logging.getLogger(__name__)


def answers_queue_name(prefix: str, device: str) -> str:
    return f"{prefix}-{device}"


def answer_frames(env, records: list[dict], context) -> dict:
    """Answer every frame the notification names; returns how many were answered."""
    processed_by = f"lambda:{context.aws_request_id}"
    answered = 0
    for record in records:
        key = unquote_plus(record["s3"]["object"]["key"])
        frame_id = frame_id_of(key)
        if frame_id is None:
            log.warning("ignoring an object that is not a frame: %s", key)
            continue
        answer = answer_frame(env, record["s3"]["bucket"]["name"], key, frame_id, processed_by)
        queue = answers_queue_name(env.settings.queues.frame_answers, answer.device)
        env.aws.sqs.send_message(QueueUrl=_queue_url(env.aws, queue), MessageBody=answer.model_dump_json())
        log.info("frame %s: %s (%.2f s)", frame_id, answer.labels or answer.error or "nothing", answer.process_s or 0)
        answered += 1
    return {"answered": answered}


def answer_frame(env, bucket: str, key: str, frame_id: str, processed_by: str) -> FrameAnswer:
    """Detect what the frame shows; an unreadable image is answered with an error, not retried."""
    import cv2

    from edgecloud.pipeline import analyse_image
    from edgecloud.protocol.labels import summarise

    began = time.perf_counter()
    _, device = parse_clip_id(frame_id)
    body = env.aws.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    image = cv2.imdecode(np.frombuffer(body, np.uint8), cv2.IMREAD_COLOR)
    meta = dict(frame_id=frame_id, device=device, processed_by=processed_by)
    if image is None:
        return FrameAnswer(**meta, error=f"{key} is not a decodable image ({len(body)} bytes)")
    detections = analyse_image(image, env.runner.detector, env.settings.detector)
    labels, _ = summarise(detections)
    return FrameAnswer(**meta, labels=labels, detections=detections, process_s=round(time.perf_counter() - began, 3))


@lru_cache(maxsize=256)
def _queue_url(aws, name: str) -> str:
    return aws.sqs.get_queue_url(QueueName=name)["QueueUrl"]
