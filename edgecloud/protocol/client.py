"""``ControllerClient``: the controller's ``/v1`` API, written once for every caller.

The Pi's uploader and result watcher, the demo, the benches and the Locust file all talk to
the controller through it, so a route, its query (``?wait=``) and the upload's multipart form
are spelled in one place. It answers the ``requests.Response`` itself: each caller judges a
status code its own way (the uploader retries a 429, a bench counts it), and a Locust
``HttpSession`` can stand in for the session and time every call.
"""

from __future__ import annotations

import json
from typing import BinaryIO, Optional, Union

import requests

# On top of a long poll's wait: how long the answer may take to arrive.
ANSWER_S = 10.0

ClipFile = tuple[str, Union[BinaryIO, bytes], str]  # (file name, bytes or open file, content type)


class ControllerClient:
    """One controller at ``url``, as the holder of ``token`` (or as ``session`` already says)."""

    def __init__(self, url: str, *, token: Optional[str] = None, session: Optional[requests.Session] = None):
        self.url = url.rstrip("/")
        self.session = session if session is not None else requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def upload(
        self,
        metadata: dict,
        clip: Optional[ClipFile] = None,
        *,
        result: Optional[dict] = None,
        snapshot: Optional[bytes] = None,
        timeout=30,
        **extra,
    ) -> requests.Response:
        """``POST /v1/clips``: the clip's metadata, its video (none for a record whose video was
        dropped), and the Pi's result and snapshot when it has them; 201 when stored."""
        form = {"metadata": json.dumps(metadata)}
        if result is not None:
            form["result"] = json.dumps(result, default=str)
        files = {}
        if clip is not None:
            files["clip"] = clip
        if snapshot is not None:
            files["snapshot"] = ("snapshot.jpg", snapshot, "image/jpeg")
        if not files:  # multipart all the same: the fields as parts without a file name
            return self._call(
                "POST", "/v1/clips", files={k: (None, v) for k, v in form.items()}, timeout=timeout, **extra
            )
        return self._call("POST", "/v1/clips", data=form, files=files, timeout=timeout, **extra)

    def status(self, clip_id: str, wait: float = 0, **extra) -> requests.Response:
        """``GET /v1/clips/<id>?wait=``: the clip's status, held by the controller up to ``wait``
        seconds (up to its ``controller.max_wait_s``) until the clip is final."""
        return self._call("GET", f"/v1/clips/{clip_id}", params={"wait": wait}, timeout=wait + ANSWER_S, **extra)

    def status_body(self, clip_id: str, wait: float = 0) -> dict:
        """The clip's status body; ``{"status": "unknown", ...}`` with why when the controller cannot say."""
        try:
            reply = self.status(clip_id, wait)
            body = (
                reply.json()
                if reply.status_code == 200
                else {"clip_id": clip_id, "status": "unknown", "http": reply.status_code}
            )
        except (requests.RequestException, ValueError) as err:
            return {"clip_id": clip_id, "status": "unknown", "error": str(err)}
        return body if isinstance(body, dict) else {"status": "unknown", "error": f"not a status object: {body!r:.80}"}

    def retry(self, filters: dict, **extra) -> requests.Response:
        """``POST /v1/clips/retry`` (operators): send failed clips matching ``filters`` through again."""
        return self._call("POST", "/v1/clips/retry", json={k: v for k, v in filters.items() if v}, timeout=60, **extra)

    def stats(self, timeout=5, **extra) -> requests.Response:
        """``GET /v1/stats``: the controller's recent upload_to_result, queue and workers."""
        return self._call("GET", "/v1/stats", timeout=timeout, **extra)

    def events(self, timeout=10, before: str = "", before_id: str = "", **filters) -> requests.Response:
        """``GET /v1/events?device=&label=&zone=&since=&before=&before_id=&limit=``: events, newest first.
        The next page back: ``before`` and ``before_id`` from the reply's ``next_before`` and ``next_before_id``."""
        params = {k: v for k, v in {**filters, "before": before, "before_id": before_id}.items() if v}
        return self._call("GET", "/v1/events", params=params, timeout=timeout)

    def frame_upload(self, device_id: str, timeout=10, **extra) -> requests.Response:
        """``POST /v1/frames/upload``: a presigned POST for one frame of ``device_id``."""
        return self._call("POST", "/v1/frames/upload", json={"device_id": device_id}, timeout=timeout, **extra)

    def frame_answers(self, device_id: str, wait: float = 0, **extra) -> requests.Response:
        """``GET /v1/frames/answers?device_id=&wait=``: the function's answers for ``device_id``."""
        return self._call(
            "GET", "/v1/frames/answers", params={"device_id": device_id, "wait": wait}, timeout=wait + ANSWER_S, **extra
        )

    def close(self) -> None:
        self.session.close()

    def __enter__(self) -> "ControllerClient":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _call(self, method: str, path: str, **kwargs) -> requests.Response:
        return self.session.request(method, f"{self.url}{path}", **kwargs)
