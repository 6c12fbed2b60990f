"""The record of a clip whose video the Pi's spool dropped (``metadata.video_dropped``): taken without a
clip part, final at once (the Pi's result, or 'dropped'), nothing queued, counted in /v1/stats and /metrics,
and shown by GET /v1/clips/<id> and the dashboard."""

from __future__ import annotations

import io
import json

import pytest

from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.keys import result_key, snapshot_key
from edgecloud.protocol.messages import LabelSummary, Result

JPEG = b"\xff\xd8\xff\xe0" + b"0" * 100


def post_record(client, clip_id, *, result=None, snapshot=None, clip=None, **meta):
    metadata = {
        "clip_id": clip_id,
        "device_id": "pi-01",
        "recorded_at": "2026-11-24T11:35:00+00:00",
        "fps": 10.0,
        "content_type": "video/mp4",
        "video_dropped": True,
        **meta,
    }
    data = {"metadata": json.dumps(metadata)}
    if result is not None:
        data["result"] = result.model_dump_json()
    if snapshot is not None:
        data["snapshot"] = (io.BytesIO(snapshot), "snapshot.jpg", "image/jpeg")
    if clip is not None:
        data["clip"] = (io.BytesIO(clip.read_bytes()), "clip.mp4", "video/mp4")
    return client.post("/v1/clips", data=data, content_type="multipart/form-data")


def stored_keys(mocked_aws, bucket) -> list[str]:
    aws, _ = mocked_aws
    return [o["Key"] for o in aws.s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def test_a_record_without_its_video_or_a_result_ends_dropped_and_queues_nothing(
    client, jobs_in_queue, mocked_aws, settings
):
    clip_id = new_clip_id("pi-01")
    reply = post_record(client, clip_id)
    assert reply.status_code == 201, reply.get_json()
    assert reply.get_json()["status"] == "dropped" and reply.get_json()["duplicate"] is False
    again = post_record(client, clip_id)  # the Pi never heard the 201: it sends the record again
    assert (
        again.status_code == 201 and again.get_json()["duplicate"] is True and again.get_json()["status"] == "dropped"
    )
    assert jobs_in_queue() == []
    assert stored_keys(mocked_aws, settings.storage.clips_bucket) == []
    assert stored_keys(mocked_aws, settings.storage.results_bucket) == []
    status = client.get(f"/v1/clips/{clip_id}?wait=30")  # final: answered at once
    body = status.get_json()
    assert status.status_code == 200 and "Retry-After" not in status.headers
    assert body["status"] == "dropped" and body["video_dropped"] is True and body["result"] is None
    assert body["video_url"] is None and body["snapshot_url"] is None and body["finished_at"]


def test_an_edge_analysed_record_without_its_video_is_done_with_its_result_and_snapshot(
    client, jobs_in_queue, mocked_aws, settings
):
    clip_id = new_clip_id("pi-01")
    result = Result(
        clip_id=clip_id,
        processed_by="edge",
        detector="hog",
        labels="person",
        summary={"person": LabelSummary(max_count=2, frames_seen=3, best_score=0.9)},
    )
    reply = post_record(client, clip_id, result=result, snapshot=JPEG)
    assert reply.status_code == 201 and reply.get_json()["status"] == "done", reply.get_json()
    assert jobs_in_queue() == [] and stored_keys(mocked_aws, settings.storage.clips_bucket) == []
    assert sorted(stored_keys(mocked_aws, settings.storage.results_bucket)) == sorted(
        [result_key(clip_id), snapshot_key(clip_id)]
    )
    body = client.get(f"/v1/clips/{clip_id}").get_json()
    assert body["status"] == "done" and body["video_dropped"] is True and body["processed_by"] == "edge"
    assert (
        body["result"]["labels"] == "person" and body["video_url"] is None and "X-Amz-Signature" in body["snapshot_url"]
    )


@pytest.mark.parametrize(
    "case, fragment",
    [
        ("a clip part as well", "send no 'clip' part"),
        ("no clip id", "metadata.clip_id"),
        ("a snapshot without a result", "only with the edge's result"),
    ],
)
def test_a_record_that_contradicts_itself_is_refused(client, vtest_mp4, jobs_in_queue, case, fragment):
    clip_id = new_clip_id("pi-01")
    if case == "a clip part as well":
        reply = post_record(client, clip_id, clip=vtest_mp4)
    elif case == "no clip id":
        reply = post_record(client, None)
    else:
        reply = post_record(client, clip_id, snapshot=JPEG)
    assert reply.status_code == 400 and fragment in reply.get_json()["error"]
    assert client.get(f"/v1/clips/{clip_id}").status_code == 404 and jobs_in_queue() == []


def test_records_without_video_are_counted_in_stats_and_metrics(client, operator_client, post_clip, vtest_mp4):
    post_clip(vtest_mp4, {"clip_id": new_clip_id("pi-01"), "device_id": "pi-01", "fps": 10.0})  # a whole clip
    assert client.get("/v1/stats").get_json()["videos_dropped"] == 0
    dropped = new_clip_id("pi-01")
    post_record(client, dropped)
    post_record(client, dropped)  # a retry is not a second drop
    analysed = new_clip_id("pi-01")
    post_record(client, analysed, result=Result(clip_id=analysed, processed_by="edge", detector="hog"))
    assert client.get("/v1/stats").get_json()["videos_dropped"] == 2
    text = operator_client.get("/metrics").get_data(as_text=True)
    assert "edgecloud_videos_dropped 2.0" in text
    assert 'edgecloud_uploads_total{outcome="video_dropped"} 2.0' in text
    assert 'edgecloud_clips{status="dropped"} 1.0' in text


def test_the_dashboard_shows_a_clip_whose_video_was_dropped(app, client):
    dropped, analysed = new_clip_id("pi-01"), new_clip_id("pi-01")
    post_record(client, dropped)
    post_record(
        client,
        analysed,
        result=Result(clip_id=analysed, processed_by="edge", detector="hog", labels="car"),
        snapshot=JPEG,
    )
    token = resources(app).registry.add("operator", "alice")
    client.post("/login", data={"token": token, "next": "/events"})
    page = client.get(f"/clips/{dropped}")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "dropped" in text and "No video" in text
    assert "<video" not in text and "Not finished yet" not in text
    text = client.get(f"/clips/{analysed}").get_data(as_text=True)
    assert "No video" in text and "and the Pi&#39;s result" in text and 'id="clip-snapshot"' in text
    assert "<video" not in text
    listed = client.get("/clips?status=dropped").get_data(as_text=True)
    assert dropped in listed and analysed not in listed
