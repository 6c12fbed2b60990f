"""Locust users for ``edgecloud bench load``: each Pi uploads one real clip and
long-polls until the cloud has its result, like the ClassifyCloud seed's 40
parallel requests. Run by bench/load.py, which starts the stack first.

Settings come from the environment: EDGECLOUD_LOAD_CLIP (file to upload),
EDGECLOUD_LOAD_CLIPS (users; the run stops once all have their result),
EDGECLOUD_LOAD_TIMEOUT (seconds a round trip may take before it counts as timed out).
"""
import json
import os
import time
from pathlib import Path

from locust import HttpUser, events, task
from locust.exception import StopUser

CLIP = Path(os.environ.get("EDGECLOUD_LOAD_CLIP", "clip.mp4"))
CLIPS = int(os.environ.get("EDGECLOUD_LOAD_CLIPS", "40"))
TIMEOUT = float(os.environ.get("EDGECLOUD_LOAD_TIMEOUT", "120"))
_finished = []


class Pi(HttpUser):
    """One camera with one clip to send."""

    def on_start(self):
        from edgecloud.jobs import new_clip_id

        self.device = f"load-{id(self) % 100000:05d}"
        self.clip_id = new_clip_id(self.device)

    @task
    def round_trip(self):
        from edgecloud.jobs import utcnow

        started = time.perf_counter()
        meta = {"clip_id": self.clip_id, "device_id": self.device, "recorded_at": utcnow().isoformat(),
                "fps": 10, "content_type": "video/mp4"}
        with CLIP.open("rb") as fh:
            self.client.post("/v1/clips", files={"clip": (CLIP.name, fh, "video/mp4")},
                             data={"metadata": json.dumps(meta)}, name="POST /v1/clips")
        status = "queued"
        while status not in ("done", "failed") and time.perf_counter() - started < TIMEOUT:
            wait = max(1, min(20, int(TIMEOUT - (time.perf_counter() - started))))
            r = self.client.get(f"/v1/clips/{self.clip_id}", params={"wait": wait}, name="GET /v1/clips/<id>?wait")
            status = r.json().get("status", "unknown") if r.ok else "unknown"
        elapsed_ms = (time.perf_counter() - started) * 1000
        failure = None if status == "done" else RuntimeError(f"ended {status} after {elapsed_ms / 1000:.0f} s")
        events.request.fire(request_type="CLIP", name="upload -> result", response_time=elapsed_ms,
                            response_length=0, exception=failure, context={})
        _finished.append(self.clip_id)
        if len(_finished) >= CLIPS:
            self.environment.runner.quit()
        raise StopUser()
