"""Long polls held at once are capped, so uploads always find a gunicorn thread."""

from __future__ import annotations

import threading

from edgecloud.clock import utcnow
from edgecloud.controller.app import create_app
from edgecloud.controller.resources import resources
from edgecloud.protocol.ids import new_clip_id


def test_a_poll_past_the_cap_is_answered_at_once_and_told_when_to_ask_again(
    device_client_of, operator_client_of, settings, mocked_aws
):
    settings.controller.max_held_waits = 1
    settings.controller.max_waits_per_device = 1
    aws, queues = mocked_aws
    app = create_app(settings, {"TESTING": True})
    resources(app).attach(aws=aws, queues=queues)
    ledger = resources(app).ledger
    held_clip, other_clip = new_clip_id("pi-01"), new_clip_id("pi-02")
    for clip_id in (held_clip, other_clip):
        ledger.add(clip_id, clip_id.split("_")[1], "queued", utcnow())
    holding, real_wait = threading.Event(), ledger.wait_final

    def wait_final(clip_id, timeout):
        holding.set()
        return real_wait(clip_id, timeout)

    ledger.wait_final = wait_final
    answers: dict = {}
    poller = threading.Thread(
        target=lambda: answers.setdefault("held", device_client_of(app).get(f"/v1/clips/{held_clip}?wait=30"))
    )
    poller.start()
    try:
        assert holding.wait(10)
        holding.clear()
        quick = operator_client_of(app).get(f"/v1/clips/{other_clip}?wait=30")
        assert quick.status_code == 200 and quick.get_json()["status"] == "queued"
        assert quick.headers["Retry-After"] == "2" and not holding.is_set()  # never held
        ledger.mark_finished(held_clip, "failed", utcnow(), error="test")
        poller.join(10)
        assert answers["held"].get_json()["status"] == "failed" and "Retry-After" not in answers["held"].headers
        again = operator_client_of(app).get(f"/v1/clips/{other_clip}?wait=0.1")  # the slot is free again
        assert holding.is_set() and "Retry-After" not in again.headers
    finally:
        ledger.release_waiters()
        poller.join(10)
        resources(app).close()
