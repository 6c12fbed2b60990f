"""The controller's /v1/stats as the edge reads it: figures that go stale must not stick."""
from __future__ import annotations

import json
import threading

from edgecloud.edge.results import ResultWatcher
from edgecloud.edge.scheduler import PRIOR_UPLOAD_TO_RESULT_S, History


def test_a_controller_with_no_recent_upload_to_result_no_longer_weighs_on_placement(serve):
    answers = {"upload_to_result_s": 300.0}  # a cold start the controller has since forgotten (e.g. restarted)
    nulls_served = 0
    two_nulls_served = threading.Event()
    first_served = threading.Event()

    def stats(environ, start_response):
        nonlocal nulls_served
        body = {"upload_to_result_s": answers["upload_to_result_s"], "process_s": None,
                "queue": {"visible": None, "in_flight": None}, "workers": {"pending": None, "running": None}}
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
