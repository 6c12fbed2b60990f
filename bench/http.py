"""The one way benchmarks talk HTTP to a controller, so credentials (a Bearer token) are added here once."""
from __future__ import annotations

import requests


def session() -> requests.Session:
    """A session for requests to the controller under test."""
    return requests.Session()


def clip_status(http: requests.Session, url: str, clip_id: str, wait: float = 0) -> dict:
    """The clip's status body; ``{"status": "unknown"}`` when the controller cannot say."""
    try:
        reply = http.get(f"{url}/v1/clips/{clip_id}", params={"wait": wait}, timeout=wait + 10)
        return reply.json() if reply.status_code == 200 else {"status": "unknown", "http": reply.status_code}
    except (requests.RequestException, ValueError) as err:
        return {"status": "unknown", "error": str(err)}
