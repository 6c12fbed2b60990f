"""The edge under refusal: a 401/403 or a 429 never drops a clip; Retry-After is honoured."""

from __future__ import annotations

import logging
import time

from werkzeug.wsgi import get_input_stream

from edgecloud.edge.session import session_factory
from edgecloud.edge.spool import Spool
from edgecloud.edge.uploader import Uploader

from .test_uploader import spool_clips


def test_without_a_token_the_clip_stays_spooled_and_a_new_token_file_sends_it(
    settings, controller_app, serve, vtest_mp4, tmp_path, caplog
):
    served = serve(controller_app)
    token = settings.edge.token_file.read_text()
    settings.edge.token_file.unlink()  # the Pi was installed without its token
    spool = Spool(tmp_path / "spool", 10**9)
    [clip_id] = spool_clips(spool, vtest_mp4, tmp_path, 1)
    with (
        caplog.at_level(logging.ERROR),
        Uploader(
            spool, served.url, retry_base_s=0.01, retry_max_s=0.05, session_factory=session_factory(settings.edge)
        ) as uploader,
    ):
        assert not uploader.wait_drained(1.0)
        assert [p["status"] for p in served.posts][:2] == [401, 401] and len(spool) == 1  # kept, not rejected
        assert "not authenticated: cannot read token file" in caplog.text and clip_id in caplog.text
        settings.edge.token_file.write_text(token)  # `edgecloud edge install --token-file ...`: no restart needed
        assert uploader.wait_drained(30)
    assert served.stored() == [clip_id] and not list(spool.rejected_dir.glob("*"))


def test_a_device_token_used_for_another_device_is_kept_and_explained(
    settings, controller_app, serve, vtest_mp4, tmp_path, caplog
):
    served = serve(controller_app)
    spool = Spool(tmp_path / "spool", 10**9)
    spool_clips(spool, vtest_mp4, tmp_path, 1, device="pi-02")  # edge.device_id says pi-02, the token is pi-01's
    with (
        caplog.at_level(logging.ERROR),
        Uploader(
            spool, served.url, retry_base_s=0.01, retry_max_s=0.05, session_factory=session_factory(settings.edge)
        ) as uploader,
    ):
        assert not uploader.wait_drained(1.0)
    statuses = [p["status"] for p in served.posts]
    # Refused uploads count against the device's bucket, so a fast retry loop may meet 429 after its 403s.
    assert statuses[0] == 403 and set(statuses) <= {403, 429} and len(spool) == 1
    assert "HTTP 403, not allowed: is edge.device_id the device the token was issued for?" in caplog.text


def test_a_429_is_retried_no_sooner_than_retry_after(vtest_mp4, tmp_path, serve):
    arrivals = []

    def over_quota_once(environ, start_response):
        get_input_stream(environ).read()
        arrivals.append(time.monotonic())
        if len(arrivals) == 1:
            start_response("429 Too Many Requests", [("Retry-After", "1"), ("Content-Type", "application/json")])
            return [b'{"error": "over quota"}']
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b'{"clip_id": "x", "status": "queued", "duplicate": false}']

    served = serve(over_quota_once)
    spool = Spool(tmp_path / "spool", 10**9)
    spool_clips(spool, vtest_mp4, tmp_path, 1)
    # Without Retry-After this backoff would retry within 0.05 s.
    with Uploader(spool, served.url, retry_base_s=0.01, retry_max_s=0.05) as uploader:
        assert uploader.wait_drained(30)
    assert len(arrivals) == 2 and arrivals[1] - arrivals[0] >= 1.0 and len(spool) == 0
