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

import time

from flask import jsonify, request
from pydantic import BaseModel, ValidationError, field_validator

from edgecloud.protocol.ids import check_device_id, new_clip_id
from edgecloud.protocol.keys import frame_key
from edgecloud.protocol.messages import FrameAnswer

from .api import bp, requesting_device
from .errors import Refused
from .resources import get_frames, get_settings
from .upload_form import pydantic_message
from .wait_param import wait_seconds

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


@bp.post("/v1/frames/upload")
def frame_upload():
    """A presigned POST for one frame of this device, under a key named here."""
    device = _device()
    settings = get_settings()
    frame_id = new_clip_id(device)
    key = frame_key(frame_id)
    max_bytes = settings.controller.max_frame_kb * 1024
    ttl = settings.controller.frame_post_ttl_s
    frames = get_frames()
    post = frames.presigned_post(key, max_bytes=max_bytes, ttl=ttl)
    frames.answers_queue(device)  # the function's answers need somewhere to go before the first frame lands
    return jsonify(
        url=post["url"],
        fields=post["fields"],
        frame_id=frame_id,
        key=key,
        max_bytes=max_bytes,
        expires_at=round(time.time() + ttl, 3),
    )


@bp.get("/v1/frames/answers")
def frame_answers():
    """The function's answers for this device, waiting up to ``wait`` seconds (at most 20) for one."""
    device = _device()
    wait = int(wait_seconds(MAX_SQS_WAIT_S))  # SQS waits in whole seconds
    answers = []
    for body in get_frames().take_answers(device, wait):
        try:
            answers.append(FrameAnswer.model_validate_json(body).model_dump(mode="json"))
        except ValidationError:
            pass  # not an answer: taken off the queue all the same, never handed to a Pi
    return jsonify(answers=answers)
