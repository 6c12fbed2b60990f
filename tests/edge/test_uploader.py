"""Uploads: exactly once, through outages, refusals and a crash mid-upload."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading

import pytest
from werkzeug.wsgi import get_input_stream

from edgecloud.edge.session import session_factory
from edgecloud.edge.spool import Spool
from edgecloud.edge.stats import StatsStore
from edgecloud.edge.uploader import Uploader
from edgecloud.protocol.ids import new_clip_id

from .conftest import stored_clip_keys


def spool_clips(spool, vtest_mp4, tmp_path, n, device="pi-01"):
    ids = []
    for _ in range(n):
        clip_id = new_clip_id(device)
        copy = tmp_path / f"{clip_id}.mp4"
        shutil.copyfile(vtest_mp4, copy)
        spool.put(
            copy,
            {
                "clip_id": clip_id,
                "device_id": device,
                "recorded_at": "2026-11-24T10:00:00+00:00",
                "fps": 10.0,
                "content_type": "video/mp4",
            },
        )
        ids.append(clip_id)
    return ids


def accepting(bodies: list):
    """A WSGI stand-in for the controller that keeps each request body and answers 201."""

    def accept(environ, start_response):
        bodies.append(get_input_stream(environ).read())
        start_response("201 Created", [("Content-Type", "application/json")])
        return [b'{"clip_id": "x", "status": "queued", "duplicate": false}']

    return accept


def test_uploads_reach_the_controller_once_and_leave_the_spool(
    settings, controller_app, serve, mocked_aws, vtest_mp4, tmp_path
):
    controller = serve(controller_app)
    spool = Spool(tmp_path / "spool", 10**9)
    ids = spool_clips(spool, vtest_mp4, tmp_path, 3)
    stats = StatsStore(tmp_path / "stats.sqlite")
    with Uploader(spool, controller.url, stats=stats, session_factory=session_factory(settings.edge)) as uploader:
        assert uploader.wait_drained(30)
    assert sorted(controller.stored()) == sorted(ids)
    assert len(stored_clip_keys(mocked_aws, settings)) == 3
    assert len(spool) == 0
    assert all(r.uploaded_at and r.bytes_sent == vtest_mp4.stat().st_size for r in stats.records())


def test_a_failing_controller_is_retried_with_backoff_and_a_refusal_is_set_aside(vtest_mp4, tmp_path, serve, caplog):
    answers = iter([503, 503])
    seen = []

    def flaky(environ, start_response):
        status = next(answers, 201)
        get_input_stream(environ).read()
        seen.append(status)
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [b'{"clip_id": "x", "status": "queued", "duplicate": false}']

    controller = serve(flaky)
    spool = Spool(tmp_path / "spool", 10**9)
    spool_clips(spool, vtest_mp4, tmp_path, 1)
    with Uploader(spool, controller.url, retry_base_s=0.01, retry_max_s=0.05) as uploader:
        assert uploader.wait_drained(30)
    assert seen == [503, 503, 201] and len(spool) == 0
    assert "HTTP 503" in caplog.text  # each retry is logged

    def refuse(environ, start_response):
        get_input_stream(environ).read()
        start_response("415 Unsupported Media Type", [("Content-Type", "application/json")])
        return [b'{"error": "bad type"}']

    refusing = serve(refuse)
    [clip_id] = spool_clips(spool, vtest_mp4, tmp_path, 1)
    with Uploader(spool, refusing.url, retry_base_s=0.01) as uploader:
        assert uploader.wait_drained(30)
    assert len(spool) == 0 and (spool.rejected_dir / clip_id / "manifest.json").exists()
    assert "refused clip" in caplog.text


def run_agent(url, spool_dir, video, command=("edge", "run"), token_file=None):
    """The agent in its own process, as systemd runs it (mock pins, the file camera)."""
    env = {
        **os.environ,
        "EDGECLOUD_EDGE__TOKEN_FILE": str(token_file or ""),
        "EDGECLOUD_EDGE__CONTROLLER_URL": url,
        "EDGECLOUD_EDGE__SPOOL_DIR": str(spool_dir),
        "EDGECLOUD_EDGE__RETRY_MAX_S": "0.2",
        "EDGECLOUD_EDGE__CAMERA": "file",
        "EDGECLOUD_EDGE__VIDEO": str(video),
        "EDGECLOUD_EDGE__PLAYBACK_SPEED": "10",
        "EDGECLOUD_EDGE__RESULT_WAIT_S": "1",
        "GPIOZERO_PIN_FACTORY": "mock",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "edgecloud.cli", *command], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


@pytest.mark.slow
@pytest.mark.parametrize("killed", ["before the controller stored it", "after the controller stored it"])
def test_killing_the_agent_mid_upload_loses_nothing(
    killed, settings, controller_app, serve, mocked_aws, vtest_mp4, vtest_avi, tmp_path
):
    spool_dir = tmp_path / "spool"
    spool = Spool(spool_dir, 10**9)
    ids = spool_clips(spool, vtest_mp4, tmp_path, 3)
    in_flight, release, all_stored = threading.Event(), threading.Event(), threading.Event()
    store_first = killed.startswith("after")

    def slow_controller(environ, start_response):
        # The second upload hangs (before the app sees it) until the agent is dead.
        if (
            environ["REQUEST_METHOD"] == "POST"
            and not store_first
            and len(served.posts) == 1
            and not in_flight.is_set()
        ):
            in_flight.set()
            release.wait(30)
            get_input_stream(environ).read()
            start_response("503 Service Unavailable", [])
            return [b""]
        return controller_app(environ, start_response)

    def hold(record):
        if store_first and len(served.posts) == 2 and not in_flight.is_set():
            in_flight.set()  # stored, but the agent will never hear the 201
            release.wait(30)
        if set(served.stored()) >= set(ids):
            all_stored.set()

    served = serve(slow_controller, hold=hold)
    agent = run_agent(served.url, spool_dir, vtest_avi, token_file=settings.edge.token_file)
    assert in_flight.wait(60), agent.communicate()[0]
    agent.send_signal(signal.SIGKILL)  # kill -9 during the upload
    agent.wait(10)
    release.set()
    assert len(Spool(spool_dir, 10**9)) == 2  # the first clip left; the one in flight did not

    restarted = run_agent(served.url, spool_dir, vtest_avi, token_file=settings.edge.token_file)
    try:
        assert all_stored.wait(60)
    finally:
        restarted.send_signal(signal.SIGTERM)
        out = restarted.communicate(timeout=60)[0].decode()
    assert restarted.returncode == 0, out
    assert sorted(served.stored()) == sorted(ids)  # every clip stored exactly once
    assert sorted(k.rsplit("/", 1)[1].split(".")[0] for k in stored_clip_keys(mocked_aws, settings)) == sorted(ids)
    assert len(Spool(spool_dir, 10**9)) == 0
    if store_first:
        assert [p.get("duplicate") for p in served.posts if p["status"] == 201].count(True) == 1


@pytest.mark.slow
def test_drain_uploads_the_spool_and_exits(settings, controller_app, serve, vtest_mp4, tmp_path):
    served = serve(controller_app)
    spool = Spool(tmp_path / "spool", 10**9)
    ids = spool_clips(spool, vtest_mp4, tmp_path, 2)
    drain = run_agent(
        served.url,
        tmp_path / "spool",
        vtest_mp4,
        command=("edge", "drain", "--timeout", "60"),
        token_file=settings.edge.token_file,
    )
    out = drain.communicate(timeout=90)[0].decode()
    assert drain.returncode == 0 and "uploaded 2; 0 left" in out, out
    assert sorted(served.stored()) == sorted(ids)


def test_a_failure_setting_a_refused_clip_aside_does_not_stop_the_uploader(
    vtest_mp4, tmp_path, serve, monkeypatch, caplog
):
    answers = iter([415])

    def refuse_once(environ, start_response):
        status = next(answers, 201)
        get_input_stream(environ).read()
        start_response(f"{status} X", [("Content-Type", "application/json")])
        return [b'{"clip_id": "x", "status": "queued", "duplicate": false}']

    controller = serve(refuse_once)
    spool = Spool(tmp_path / "spool", 10**9)
    spool_clips(spool, vtest_mp4, tmp_path, 2)
    real_reject = spool.reject
    failures = iter([OSError(28, "No space left on device")])

    def reject(entry, why):
        failure = next(failures, None)
        if failure is not None:  # the disk is full just then: the manifest cannot be rewritten
            raise failure
        real_reject(entry, why)

    monkeypatch.setattr(spool, "reject", reject)
    with Uploader(spool, controller.url, retry_base_s=0.01, retry_max_s=0.05) as uploader:
        assert uploader.wait_drained(30), "the uploader thread died"
    assert len(spool) == 0 and "No space left" in caplog.text


def test_an_entry_whose_clip_file_is_gone_is_set_aside_and_does_not_block_the_rest(vtest_mp4, tmp_path, serve, caplog):
    stored = []
    controller = serve(accepting(stored))
    spool = Spool(tmp_path / "spool", 10**9)
    broken, fine = spool_clips(spool, vtest_mp4, tmp_path, 2)
    spool.get(broken).clip_path.unlink()  # e.g. fsck after a power cut took the file
    with Uploader(spool, controller.url, retry_base_s=0.01, retry_max_s=0.05) as uploader:
        assert uploader.wait_drained(30), "stuck on the entry with no clip"
    assert len(stored) == 1 and fine.encode() in stored[0]
    assert (spool.rejected_dir / broken / "manifest.json").exists() and broken in caplog.text


def test_the_pis_snapshot_goes_up_with_its_result_and_is_stored(
    settings, controller_app, serve, mocked_aws, vtest_mp4, tmp_path, client
):
    from edgecloud.detect import create_detector
    from edgecloud.edge.local import SNAPSHOT_FILE
    from edgecloud.pipeline import analyse_clip
    from edgecloud.protocol.keys import snapshot_key

    controller = serve(controller_app)
    spool = Spool(tmp_path / "spool", 10**9)
    (clip_id,) = spool_clips(spool, vtest_mp4, tmp_path, 1)
    (entry,) = spool.entries()
    result = analyse_clip(
        entry.clip_path,
        create_detector(settings.detector),
        settings.detector,
        clip_id=clip_id,
        processed_by="edge",
        snapshot_path=entry.path / SNAPSHOT_FILE,
    )
    spool.update(entry, result=result.model_dump(mode="json"))
    sent = (entry.path / SNAPSHOT_FILE).read_bytes()
    with Uploader(spool, controller.url, session_factory=session_factory(settings.edge)) as uploader:
        assert uploader.wait_drained(30)
    aws, _ = mocked_aws
    stored = aws.s3.get_object(Bucket=settings.storage.results_bucket, Key=snapshot_key(clip_id))["Body"].read()
    assert stored == sent and stored[:3] == b"\xff\xd8\xff"
    status = client.get(f"/v1/clips/{clip_id}").json  # as device pi-01, whose clip it is
    assert status["result"]["snapshot_key"] == snapshot_key(clip_id) and status["snapshot_url"]


def test_a_spool_over_its_cap_sends_the_records_whose_video_it_dropped(
    settings, controller_app, serve, mocked_aws, vtest_mp4, tmp_path, client, caplog
):
    import logging

    from edgecloud.edge.local import SNAPSHOT_FILE
    from edgecloud.protocol.messages import LabelSummary, Result

    controller = serve(controller_app)
    spool = Spool(tmp_path / "spool", 10**9)
    analysed, clip_only = spool_clips(spool, vtest_mp4, tmp_path, 2)
    result = Result(
        clip_id=analysed,
        processed_by="edge",
        detector="hog",
        labels="person",
        summary={"person": LabelSummary(max_count=1, frames_seen=2, best_score=0.8)},
    )
    spool.update(spool.get(analysed), result=result.model_dump(mode="json"))
    (spool.get(analysed).path / SNAPSHOT_FILE).write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 100)
    spool.max_bytes = int(vtest_mp4.stat().st_size * 1.5)  # room for one clip: the next pushes two videos out
    with caplog.at_level(logging.WARNING):
        (newest,) = spool_clips(spool, vtest_mp4, tmp_path, 1)
    size = vtest_mp4.stat().st_size
    assert f"dropped the video of clip {analysed} ({size} bytes freed)" in caplog.text
    assert f"dropped the video of clip {clip_only} ({size} bytes freed)" in caplog.text
    assert (spool.videos_dropped, spool.bytes_dropped) == (2, 2 * size)

    stats = StatsStore(tmp_path / "stats.sqlite")
    with Uploader(spool, controller.url, stats=stats, session_factory=session_factory(settings.edge)) as uploader:
        assert uploader.wait_drained(30)
    assert sorted(controller.stored()) == sorted([analysed, clip_only, newest]) and len(spool) == 0
    (only_video,) = stored_clip_keys(mocked_aws, settings)
    assert newest in only_video
    first = client.get(f"/v1/clips/{analysed}").json
    assert first["status"] == "done" and first["video_dropped"] and first["result"]["labels"] == "person"
    assert first["snapshot_url"] and first["video_url"] is None
    second = client.get(f"/v1/clips/{clip_only}").json
    assert second["status"] == "dropped" and second["video_dropped"] and second["result"] is None
    assert client.get(f"/v1/clips/{newest}").json["video_dropped"] is False
    assert client.get("/v1/stats").json["videos_dropped"] == 2
    assert stats.videos_dropped() == (2, 2 * size)  # the Pi's own count, from the records it sent
    assert {r.clip_id: r.bytes_sent for r in stats.records()} == {analysed: 0, clip_only: 0, newest: size}


def test_a_video_dropped_while_its_upload_is_being_prepared_goes_as_a_record_not_aside(vtest_mp4, tmp_path, serve):
    import json as _json

    parts = []
    controller = serve(accepting(parts))
    spool = Spool(tmp_path / "spool", 10**9)
    (clip_id,) = spool_clips(spool, vtest_mp4, tmp_path, 1)

    def prepare(entry):  # the recorder's next clip pushes this one's video out while it is in hand
        if spool.max_bytes > 1:
            spool.max_bytes = 1
            assert spool.enforce_cap() == [clip_id]
        return entry

    with Uploader(spool, controller.url, retry_base_s=0.01, retry_max_s=0.05, prepare=prepare) as uploader:
        assert uploader.wait_drained(30)
    assert len(parts) == 1 and not list(spool.rejected_dir.iterdir()) and len(spool) == 0
    body = parts[0]
    assert b'name="clip"' not in body and b"ftyp" not in body
    metadata = _json.loads(body.split(b'name="metadata"\r\n\r\n')[1].split(b"\r\n--")[0])
    assert metadata["clip_id"] == clip_id and metadata["video_dropped"] is True
