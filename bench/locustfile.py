"""Locust users for ``edgecloud bench load``: each Pi uploads one real clip and
long-polls until the cloud has its result, like the ClassifyCloud seed's 40
parallel requests. Run by bench/load.py, which starts the stack first.

Settings come from the environment: EDGECLOUD_LOAD_CLIP (file to upload),
EDGECLOUD_LOAD_CLIPS (users; the run stops once all have their result),
EDGECLOUD_LOAD_TIMEOUT (seconds a round trip may take before it counts as timed out),
EDGECLOUD_LOAD_OUT (JSON file each finished round trip is recorded in, exactly as measured),
EDGECLOUD_LOAD_TOKENS (JSON {device_id: token}: each user takes one device of its own).
"""

import json
import os
import threading
import time
from pathlib import Path

from locust import HttpUser, events, task
from locust.exception import StopUser

CLIP = Path(os.environ.get("EDGECLOUD_LOAD_CLIP", "clip.mp4"))
CLIPS = int(os.environ.get("EDGECLOUD_LOAD_CLIPS", "40"))
TIMEOUT = float(os.environ.get("EDGECLOUD_LOAD_TIMEOUT", "120"))
OUT = Path(os.environ.get("EDGECLOUD_LOAD_OUT", "load-trips.json"))
_finished: list[dict] = []
_TOKENS = (
    json.loads(Path(os.environ["EDGECLOUD_LOAD_TOKENS"]).read_text()) if "EDGECLOUD_LOAD_TOKENS" in os.environ else {}
)
_devices = iter(sorted(_TOKENS))
_devices_lock = threading.Lock()


def _record(trip: dict) -> None:
    # Rewritten whole after every trip (a few dozen lines): complete however Locust stops.
    _finished.append(trip)
    tmp = OUT.with_suffix(".tmp")
    tmp.write_text(json.dumps(_finished))
    os.replace(tmp, OUT)


class Pi(HttpUser):
    """One camera with one clip to send."""

    def on_start(self):
        from edgecloud.protocol.client import ControllerClient
        from edgecloud.protocol.ids import new_clip_id

        with _devices_lock:
            self.device_id = next(_devices)
        self.client.headers["Authorization"] = f"Bearer {_TOKENS[self.device_id]}"
        self.clip_id = new_clip_id(self.device_id)
        # Locust's HttpSession (relative paths, each call timed) stands in for the client's session.
        self.controller = ControllerClient("", session=self.client)

    @task
    def round_trip(self):
        from edgecloud.clock import utcnow

        started = time.perf_counter()
        meta = {
            "clip_id": self.clip_id,
            "device_id": self.device_id,
            "recorded_at": utcnow().isoformat(),
            "fps": 10,
            "content_type": "video/mp4",
        }
        with CLIP.open("rb") as fh:
            # The upload is part of the round trip: it may take what the round trip may (a slow one shows in
            # upload_s and the round trip's figures; only past TIMEOUT is it given up).
            posted = self.controller.upload(meta, (CLIP.name, fh, "video/mp4"), name="POST /v1/clips", timeout=TIMEOUT)
        upload_s = time.perf_counter() - started
        status = "queued" if posted.status_code == 201 else f"upload {posted.status_code}"
        # Why an upload failed, for the report: the client's error (status 0: no answer) or the controller's.
        why = None if posted.status_code == 201 else str(getattr(posted, "error", None) or posted.text)[:300]
        while status in ("queued", "processing") and time.perf_counter() - started < TIMEOUT:
            wait = max(1, min(20, int(TIMEOUT - (time.perf_counter() - started))))
            r = self.controller.status(self.clip_id, wait, name="GET /v1/clips/<id>?wait")
            status = r.json().get("status", "unknown") if r.ok else "unknown"
        elapsed_ms = (time.perf_counter() - started) * 1000
        failure = None if status == "done" else RuntimeError(f"ended {status} after {elapsed_ms / 1000:.0f} s")
        events.request.fire(
            request_type="CLIP",
            name="upload -> result",
            response_time=elapsed_ms,
            response_length=0,
            exception=failure,
            context={},
        )
        _record(
            {
                "clip_id": self.clip_id,
                "status": status,
                "upload_s": round(upload_s, 4),
                "round_trip_s": round(elapsed_ms / 1000, 4),
                **({"upload_error": why} if why else {}),
            }
        )
        if len(_finished) >= CLIPS:
            self.environment.runner.quit()
        raise StopUser()
