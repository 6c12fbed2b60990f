"""The per-frame path in process on moto: the controller's presigned POST, the frame
straight to S3, the bucket's notification, the handler, the device's answers queue."""

from __future__ import annotations

import base64
import calendar
import json
import time

import cv2
import pytest
import requests

from edgecloud.protocol.keys import frame_key
from edgecloud.worker.lambda_.local import notify_queue_of_frames
from edgecloud.worker.lambda_handler import Environment, handle

from .conftest import make_context


@pytest.fixture
def jpeg(vtest_avi) -> bytes:
    capture = cv2.VideoCapture(str(vtest_avi))
    capture.set(cv2.CAP_PROP_POS_FRAMES, 100)  # people on the path
    ok, image = capture.read()
    assert ok
    return cv2.imencode(".jpg", image)[1].tobytes()


def _post_for(client, device="pi-01") -> dict:
    r = client.post("/v1/frames/upload", json={"device_id": device})
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_a_post_stores_one_frame_under_one_exact_key_size_capped_and_short_lived(
    settings, controller_app, device_client_of
):
    client = device_client_of(controller_app)  # as device pi-01
    before = time.time()
    post, again = _post_for(client), _post_for(client)

    policy = json.loads(base64.b64decode(post["fields"]["policy"]))
    conditions = policy["conditions"]
    assert post["key"] == frame_key(post["frame_id"]) and post["key"].startswith("frames/pi-01/")
    assert {"key": post["key"]} in conditions and post["fields"]["key"] == post["key"]
    assert not [c for c in conditions if isinstance(c, list) and c[0] == "starts-with"]  # no prefix: one object
    assert again["key"] != post["key"]  # each frame its own grant
    assert ["content-length-range", 1, settings.controller.max_frame_kb * 1024] in conditions
    assert {"Content-Type": "image/jpeg"} in conditions and {"bucket": settings.storage.frames_bucket} in conditions
    expires = calendar.timegm(time.strptime(policy["expiration"], "%Y-%m-%dT%H:%M:%SZ"))
    assert settings.controller.frame_post_ttl_s == 60
    assert before < expires <= time.time() + 60 + 1 and post["max_bytes"] == settings.controller.max_frame_kb * 1024


def test_a_request_naming_no_valid_device_gets_nothing(controller_app, device_client_of):
    client = device_client_of(controller_app)
    for body in ({}, {"device_id": "../pi-02"}, {"device_id": "PI 01"}):
        r = client.post("/v1/frames/upload", json=body)
        assert r.status_code == 400 and "device_id" in r.get_json()["error"]


def test_a_posted_frame_is_answered_on_its_devices_queue(settings, controller_app, mocked_aws, jpeg, device_client_of):
    aws, _ = mocked_aws
    events = notify_queue_of_frames(aws, settings)
    client = device_client_of(controller_app)  # as device pi-01
    post = _post_for(client)
    frame_id = post["frame_id"]

    sent = requests.post(post["url"], data=post["fields"], files={"file": ("f.jpg", jpeg, "image/jpeg")})
    assert sent.status_code == 204
    (message,) = aws.sqs.receive_message(QueueUrl=events, MaxNumberOfMessages=10)["Messages"][-1:]
    event = json.loads(message["Body"])  # S3's own notification JSON, as Lambda gets it
    context = make_context()
    reply = _handle(settings, event, context)

    assert reply == {"answered": 1}
    (answer,) = client.get("/v1/frames/answers", query_string={"device_id": "pi-01", "wait": 1}).get_json()["answers"]
    assert answer["frame_id"] == frame_id and answer["device"] == "pi-01"
    assert "person" in answer["labels"] and answer["processed_by"] == f"lambda:{context.aws_request_id}"
    assert client.get("/v1/frames/answers", query_string={"device_id": "pi-02"}).status_code == 403  # not its own


def test_a_wait_that_is_no_number_of_seconds_is_a_400(controller_app, device_client_of):
    client = device_client_of(controller_app)
    for wait in ("inf", "nan", "soon"):
        reply = client.get("/v1/frames/answers", query_string={"device_id": "pi-01", "wait": wait})
        assert reply.status_code == 400 and "wait must be a number" in reply.get_json()["error"]


def test_a_deleted_answers_queue_is_made_again(settings, controller_app, mocked_aws, device_client_of):
    from edgecloud.protocol.messages import FrameAnswer

    aws, _ = mocked_aws
    client = device_client_of(controller_app)  # as device pi-01
    assert client.get("/v1/frames/answers", query_string={"device_id": "pi-01"}).get_json() == {"answers": []}
    name = f"{settings.queues.frame_answers}-pi-01"
    aws.sqs.delete_queue(QueueUrl=aws.sqs.get_queue_url(QueueName=name)["QueueUrl"])

    reply = client.get("/v1/frames/answers", query_string={"device_id": "pi-01"})
    assert reply.status_code == 200 and reply.get_json() == {"answers": []}
    answer = FrameAnswer(
        frame_id="20261124T113500123Z_pi-01_3fa9c2d1", device="pi-01", processed_by="lambda:1", labels="person"
    )
    aws.sqs.send_message(
        QueueUrl=aws.sqs.get_queue_url(QueueName=name)["QueueUrl"], MessageBody=answer.model_dump_json()
    )  # as the function answers
    (got,) = client.get("/v1/frames/answers", query_string={"device_id": "pi-01"}).get_json()["answers"]
    assert got["frame_id"] == answer.frame_id


def test_an_object_that_is_not_a_frame_key_is_ignored(settings, mocked_aws, jpeg):
    aws, _ = mocked_aws
    aws.s3.put_object(Bucket=settings.storage.frames_bucket, Key="frames/pi-01/evil.jpg", Body=jpeg)
    event = {
        "Records": [
            {
                "eventSource": "aws:s3",
                "s3": {"bucket": {"name": settings.storage.frames_bucket}, "object": {"key": "frames/pi-01/evil.jpg"}},
            }
        ]
    }
    assert _handle(settings, event, make_context()) == {"answered": 0}


def _handle(settings, event, context):
    """Lambda's entry point, in an environment made from these settings (as its variables would give)."""
    from edgecloud.worker import lambda_handler

    lambda_handler._environment = Environment(settings)
    try:
        return handle(event, context)
    finally:
        lambda_handler._environment = None
