"""Upload quotas: a token bucket per device, and a daily cap that holds across controllers."""

from __future__ import annotations

from datetime import datetime, timezone

from edgecloud.controller.quotas import DailyCap, TokenBuckets
from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id

from .test_api import meta


def test_the_bucket_allows_a_burst_then_refills_at_its_rate():
    now = [0.0]
    buckets = TokenBuckets(burst=3, refill_per_s=2.0, clock=lambda: now[0])
    assert [buckets.take("pi-01") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("pi-01") == 0.5  # one token back in half a second
    assert buckets.take("pi-02") == 0  # each device has its own bucket
    now[0] = 0.5
    assert buckets.take("pi-01") == 0 and buckets.take("pi-01") == 0.5
    now[0] = 100
    assert [buckets.take("pi-01") for _ in range(4)] == [0, 0, 0, 0.5]  # refills up to the burst, not beyond


def test_the_buckets_forget_keys_whose_buckets_are_full_again():
    now = [0.0]
    buckets = TokenBuckets(burst=2, refill_per_s=1.0, clock=lambda: now[0])
    for n in range(5000):  # as many source addresses, each with one wrong token
        buckets.take(f"203.0.{n // 256}.{n % 256}")
    now[0] = 1.0  # those are full again: a newcomer's bucket, nothing to keep
    for n in range(5000):
        buckets.take(f"198.51.{n // 256}.{n % 256}")
    assert len(buckets) == 5000  # the second 5000, each still short of a token
    assert [buckets.take("203.0.0.1") for _ in range(3)] == [0, 0, 1]  # forgotten, so full: as it was


def test_over_the_burst_is_429_with_retry_after_and_nothing_stored(
    settings, client, post_clip, vtest_mp4, jobs_in_queue
):
    settings.controller.upload_burst = 2
    settings.controller.upload_refill_per_s = 0.25
    replies = [post_clip(vtest_mp4, meta(new_clip_id("pi-01"))) for _ in range(3)]
    assert [r.status_code for r in replies] == [201, 201, 429]
    assert replies[2].headers["Retry-After"] == "4" and "burst" in replies[2].get_json()["error"]
    assert len(jobs_in_queue()) == 2


def test_a_retry_of_a_clip_already_held_costs_no_upload_of_the_day(settings, post_clip, vtest_mp4, jobs_in_queue):
    # The Pi's 201 was lost, so it sends the same clip again: answered as a duplicate, not refused as over the cap.
    settings.controller.daily_clip_cap = 1
    first = meta(new_clip_id("pi-01"))
    replies = [
        post_clip(vtest_mp4, first),
        post_clip(vtest_mp4, first),
        post_clip(vtest_mp4, meta(new_clip_id("pi-01"))),
    ]
    assert [r.status_code for r in replies] == [201, 201, 429]
    assert replies[1].get_json()["duplicate"] is True and "1 uploads today" in replies[2].get_json()["error"]
    assert len(jobs_in_queue()) == 1


def test_the_daily_cap_holds_across_controllers(settings, mocked_aws, controller_app, device_token, vtest_mp4):
    import io
    import json

    from edgecloud.controller.app import create_app

    aws, queues = mocked_aws
    settings.controller.daily_clip_cap = 3
    second = create_app(settings, {"TESTING": True})
    resources(second).attach(aws=aws, queues=queues)
    codes = []
    for n in range(5):  # alternate between two controllers, each with a full bucket of its own
        client = (controller_app if n % 2 == 0 else second).test_client()
        reply = client.post(
            "/v1/clips",
            headers={"Authorization": f"Bearer {device_token}"},
            content_type="multipart/form-data",
            data={
                "clip": (io.BytesIO(vtest_mp4.read_bytes()), "clip.mp4", "video/mp4"),
                "metadata": json.dumps(meta(new_clip_id("pi-01"))),
            },
        )
        codes.append(reply.status_code)
    assert codes == [201, 201, 201, 429, 429]
    assert 0 < int(reply.headers["Retry-After"]) <= 86400 and "3 uploads today" in reply.get_json()["error"]
    assert resources(second).quotas.daily.used("pi-01") == 3
    resources(second).close()


def test_the_daily_cap_resets_at_midnight_utc(settings, mocked_aws):
    aws, _ = mocked_aws
    now = [datetime(2026, 11, 24, 23, 59, 0, tzinfo=timezone.utc)]
    cap = DailyCap(aws, settings.tables.credentials, cap=1, now=lambda: now[0])
    assert cap.take("pi-01") == 0
    assert cap.take("pi-01") == 60  # seconds to midnight UTC
    now[0] = datetime(2026, 11, 25, 0, 0, 1, tzinfo=timezone.utc)
    assert cap.take("pi-01") == 0 and cap.used("pi-01") == 1


def test_the_daily_cap_counts_a_block_at_a_time_and_still_holds_across_controllers(settings, mocked_aws):
    aws, _ = mocked_aws
    first, second = (DailyCap(aws, settings.tables.credentials, cap=25, block=10) for _ in range(2))
    assert first.take("pi-01") == 0 and first.used("pi-01") == 10  # one write counted ten uploads
    allowed = 1
    for n in range(40):  # two controllers, taking in turn until both refuse
        allowed += (second if n % 2 == 0 else first).take("pi-01") == 0
    assert allowed == 25 and first.used("pi-01") == 25
    assert first.take("pi-01") > 0 and second.take("pi-01") > 0


def _bucket_of(settings, burst: int) -> None:
    settings.controller.upload_burst = burst
    settings.controller.upload_refill_per_s = 0.001  # nothing comes back while the test runs


def test_clips_empty_the_bucket_that_frames_and_polls_take_from(
    settings, client, operator_client, post_clip, vtest_mp4
):
    _bucket_of(settings, 2)
    assert [post_clip(vtest_mp4, meta(new_clip_id("pi-01"))).status_code for _ in range(2)] == [201, 201]
    replies = [
        client.post("/v1/frames/upload", json={"device_id": "pi-01"}),
        client.get("/v1/frames/answers", query_string={"device_id": "pi-01"}),
        client.get("/v1/stats"),
    ]
    assert [r.status_code for r in replies] == [429, 429, 429]
    assert all(int(r.headers["Retry-After"]) > 0 and "burst" in r.get_json()["error"] for r in replies)
    assert operator_client.get("/v1/stats").status_code == 200  # an operator is not the device's bucket


def test_frames_and_answers_empty_the_bucket_clips_take_from(settings, client, post_clip, vtest_mp4, jobs_in_queue):
    _bucket_of(settings, 2)
    assert client.post("/v1/frames/upload", json={"device_id": "pi-01"}).status_code == 200
    assert client.get("/v1/frames/answers", query_string={"device_id": "pi-01"}).status_code == 200
    refused = post_clip(vtest_mp4, meta(new_clip_id("pi-01")))
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 0
    assert jobs_in_queue() == []


def test_refused_uploads_cost_a_token_taken_before_the_body_is_read(
    settings, controller_app, post_clip, vtest_mp4, jobs_in_queue
):
    _bucket_of(settings, 3)
    body_limit = controller_app.config["MAX_CONTENT_LENGTH"]
    codes = [
        post_clip(vtest_mp4, "{not json").status_code,
        post_clip(
            b"plain text, no video",
            meta(new_clip_id("pi-01"), content_type=None),
            mimetype="text/plain",
            filename="clip.txt",
        ).status_code,
    ]
    controller_app.config["MAX_CONTENT_LENGTH"] = 1024  # Flask refuses the body while parsing it
    codes.append(post_clip(vtest_mp4, meta(new_clip_id("pi-01"))).status_code)
    controller_app.config["MAX_CONTENT_LENGTH"] = body_limit
    assert codes == [400, 415, 413]
    assert post_clip(vtest_mp4, meta(new_clip_id("pi-01"))).status_code == 429  # a good clip: the bucket is empty
    controller_app.config["MAX_CONTENT_LENGTH"] = 1024
    assert post_clip(vtest_mp4, meta(new_clip_id("pi-01"))).status_code == 429  # not 413: refused before parsing
    assert jobs_in_queue() == []
