"""Follows clips the cloud processes until their result is seen, and reads the controller's stats.

Each uploaded clip-only clip is long-polled (``GET /v1/clips/<id>?wait=N``)
by a few threads, one poll per clip in turn, until it ends or its deadline
passes (an answer the watcher cannot read is retried, never fatal); when it is done the result
time and labels go to the stats
store and the upload_to_result (upload done -> result seen) to the history the
fastest-finish policy reads. ``GET /v1/stats`` is read every few seconds for
the controller's own recent upload_to_result.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from datetime import datetime
from typing import Callable, Optional

import requests

from edgecloud.clock import utcnow
from edgecloud.protocol.client import ControllerClient
from edgecloud.protocol.states import FINAL

from .session import refusal

log = logging.getLogger(__name__)


def _seconds(header: Optional[str]) -> float:
    try:
        return min(float(header), 60.0) if header else 0.0
    except ValueError:  # an HTTP date or junk: the default pause will do
        return 0.0


class ResultWatcher:
    """Long-polls clip status for clips sent without a result; see the module docstring."""

    def __init__(
        self,
        controller_url: str,
        *,
        stats=None,
        history=None,
        wait_s: float = 10,
        threads: int = 3,
        stats_every_s: float = 2.0,
        deadline_s: float = 900,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ):
        self.url = controller_url.rstrip("/")
        self.deadline_s = deadline_s
        self.session_factory = session_factory
        self.stats = stats
        self.history = history
        self.wait_s = wait_s
        self.stats_every_s = stats_every_s
        self.results: dict[str, dict] = {}  # clip id -> last status body seen
        self._threads = threads
        self._queue: queue.Queue = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._pending: set[str] = set()
        self._cond = threading.Condition()
        self._stop = threading.Event()
        self._stats_thread: Optional[threading.Thread] = None

    def start(self) -> "ResultWatcher":
        # Daemon threads: a long poll in flight must not hold up the agent's exit.
        while len(self._workers) < self._threads:
            worker = threading.Thread(target=self._work, name=f"result-watch-{len(self._workers)}", daemon=True)
            worker.start()
            self._workers.append(worker)
        if self._stats_thread is None and self.history is not None:
            self._stats_thread = threading.Thread(target=self._poll_stats, name="controller-stats", daemon=True)
            self._stats_thread.start()
        return self

    def watch(self, clip_id: str, uploaded_at: Optional[datetime] = None) -> None:
        with self._cond:
            if clip_id in self._pending or self._stop.is_set():
                return
            self._pending.add(clip_id)
        self._queue.put((clip_id, uploaded_at or utcnow(), time.monotonic() + self.deadline_s))

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._pending)

    def wait_all(self, timeout: Optional[float] = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: not self._pending, timeout)

    def close(self) -> None:
        self._stop.set()
        for _ in self._workers:
            self._queue.put(None)
        if self._stats_thread is not None:
            self._stats_thread.join(1)

    def __repr__(self) -> str:
        return f"<ResultWatcher {self.url} pending={self.pending}>"

    def _work(self) -> None:
        # One session per thread; a clip gets one long poll per turn, then goes to the back of the
        # queue, so a few clips that never finish cannot hold up the ones behind them.
        with self.session_factory() as session:
            while not self._stop.is_set():
                item = self._queue.get()
                if item is None:
                    return
                try:
                    again = self._poll(session, *item)
                except Exception:  # noqa: BLE001 - a dead watcher thread would strand every later clip
                    log.exception("watching clip %s; will ask again", item[0])
                    self._stop.wait(1.0)
                    again = True
                if again and time.monotonic() >= item[2]:
                    log.warning(
                        "no result for clip %s within %.0f s; no longer watching it (it is in the cloud)",
                        item[0],
                        self.deadline_s,
                    )
                    again = False
                if again:
                    self._queue.put(item)
                else:
                    self._forget(item[0])

    def _poll(self, session: requests.Session, clip_id: str, uploaded_at: datetime, deadline: float) -> bool:
        """One long poll of the clip's status; True to ask again later."""
        started = time.monotonic()
        try:
            response = ControllerClient(self.url, session=session).status(clip_id, self.wait_s)
            body = response.json() if response.status_code == 200 else None
            if body is not None and not isinstance(body, dict):
                raise ValueError(f"not a status object: {body!r:.80}")
        except (requests.RequestException, ValueError) as err:  # no controller, or an answer that is not ours
            log.debug("status of %s: %s", clip_id, err)
            self._stop.wait(2.0)
            return True
        if body is not None and body.get("status") in FINAL:
            self._seen(clip_id, body, uploaded_at)
            return False
        if response.status_code in (400, 404):
            log.error("controller does not know clip %s (HTTP %s)", clip_id, response.status_code)
            return False
        if response.status_code in (401, 403):  # the token is wrong or revoked: ask again, slowly
            log.error("result of %s: %s", clip_id, refusal(response, session.auth))
            self._stop.wait(10.0)
            return True
        if time.monotonic() - started < 0.5:
            # The controller did not hold the request (too many held): ask again when it says, not at once.
            self._stop.wait(max(1.0, _seconds(response.headers.get("Retry-After"))))
        return True

    def _forget(self, clip_id: str) -> None:
        with self._cond:
            self._pending.discard(clip_id)
            self._cond.notify_all()

    def _seen(self, clip_id: str, body: dict, uploaded_at: datetime) -> None:
        seen_at = utcnow()
        # The result is stored when the controller says it finished; the long poll adds only its wake-up.
        stored_at = datetime.fromisoformat(body["finished_at"]) if body.get("finished_at") else seen_at
        self.results[clip_id] = body
        result = body.get("result") or {}
        if self.history is not None:
            self.history.observe_upload_to_result((seen_at - uploaded_at).total_seconds())
        if self.stats is not None:
            summary = result.get("summary") or {}
            self.stats.record(
                clip_id,
                result_at=stored_at,
                status=body.get("status"),
                labels=result.get("labels", ""),
                best_score=max((s.get("best_score", 0) for s in summary.values()), default=None),
            )
        log.info("result of %s: %s %s", clip_id, body.get("status"), result.get("labels", ""))

    def _poll_stats(self) -> None:
        with self.session_factory() as session:
            while not self._stop.is_set():
                try:
                    response = ControllerClient(self.url, session=session).stats()
                    if response.status_code == 200:
                        body = response.json()
                        # null: no recent figure (e.g. a restarted controller); a stale one must not stick.
                        upload_to_result = body.get("upload_to_result_s")
                        self.history.controller_upload_to_result_s = (
                            None if upload_to_result is None else float(upload_to_result)
                        )
                        self.history.observe_cloud_queue(
                            (body.get("queue") or {}).get("visible"),
                            (body.get("workers") or {}).get("running"),
                            body.get("process_s"),
                        )
                except (requests.RequestException, ValueError, TypeError, AttributeError) as err:
                    log.debug("controller stats: %s", err)
                self._stop.wait(self.stats_every_s)
