"""The controller's /v1/stats as the edge reads it: figures that go stale must not stick."""

from __future__ import annotations

import json
import threading

from edgecloud.edge.result_watcher import ResultWatcher
from edgecloud.edge.scheduler import PRIOR_UPLOAD_TO_RESULT_S, History


def test_a_controller_with_no_recent_upload_to_result_no_longer_weighs_on_placement(serve):
    answers = {"upload_to_result_s": 300.0}  # a cold start the controller has since forgotten (e.g. restarted)
    nulls_served = 0
    two_nulls_served = threading.Event()
    first_served = threading.Event()

    def stats(environ, start_response):
        nonlocal nulls_served
        body = {
            "upload_to_result_s": answers["upload_to_result_s"],
            "process_s": None,
            "queue": {"visible": None, "in_flight": None},
            "workers": {"pending": None, "running": None},
        }
        if body["upload_to_result_s"] is None:
            nulls_served += 1
            if nulls_served >= 2:  # the watcher reads one answer at a time: the first null was applied
                two_nulls_served.set()
        start_response("200 OK", [("Content-Type", "application/json")])
        first_served.set()
        return [json.dumps(body).encode()]

    controller = serve(stats)
    history = History()
    watcher = ResultWatcher(controller.url, history=history, stats_every_s=0.01).start()
    try:
        assert first_served.wait(10)
        answers["upload_to_result_s"] = None
        assert two_nulls_served.wait(10)
        assert history.controller_upload_to_result_s is None
        assert history.cloud_upload_to_result() == PRIOR_UPLOAD_TO_RESULT_S
    finally:
        watcher.close()


def status_app(answer):
    """A controller whose GET /v1/clips/<id> answers ``answer(clip_id, n)`` (n: that clip's nth ask)."""
    asked: dict[str, int] = {}

    def app(environ, start_response):
        clip_id = environ["PATH_INFO"].rsplit("/", 1)[-1]
        asked[clip_id] = asked.get(clip_id, 0) + 1
        status, body = answer(clip_id, asked[clip_id])
        start_response(status, [("Content-Type", "application/json")])
        return [body if isinstance(body, bytes) else json.dumps(body).encode()]

    return app


def done(clip_id):
    return "200 OK", {"clip_id": clip_id, "status": "done", "finished_at": None, "result": {"labels": "person"}}


def test_an_answer_that_is_not_json_does_not_stop_the_watcher(serve):
    def answer(clip_id, n):
        if clip_id == "a" and n == 1:
            return "200 OK", b"<html>proxy error</html>"
        return done(clip_id)

    watcher = ResultWatcher(serve(status_app(answer)).url, threads=1, wait_s=0).start()
    try:
        watcher.watch("a")
        watcher.watch("b")
        assert watcher.wait_all(15)
        assert set(watcher.results) == {"a", "b"}
    finally:
        watcher.close()


def test_clips_that_never_finish_neither_block_later_ones_nor_stay_watched_forever(serve, caplog):
    def answer(clip_id, n):
        return done(clip_id) if clip_id == "later" else ("200 OK", {"clip_id": clip_id, "status": "queued"})

    watcher = ResultWatcher(serve(status_app(answer)).url, threads=3, wait_s=0, deadline_s=3).start()
    try:
        for clip_id in ("stuck-1", "stuck-2", "stuck-3", "later"):
            watcher.watch(clip_id)
        with caplog.at_level("WARNING"):
            assert watcher.wait_all(20)
        assert set(watcher.results) == {"later"}
        assert "no result for clip stuck-1 within 3 s" in caplog.text
    finally:
        watcher.close()
