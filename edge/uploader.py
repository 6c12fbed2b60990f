"""Sends spooled clips to the controller, oldest first; an entry leaves the spool only after a 201.

Failures that may pass (no connection, timeout, 5xx, 429, and 401/403, which a
new token or a fixed device id cures) are retried with exponential backoff and
jitter (tenacity's ``wait_random_exponential``), never sooner than a 429's
``Retry-After``, for as long as it takes; a clip the controller refuses for good (400, 413, 415) is
set aside with a log line, never retried forever. The controller dedupes by
clip id, so an upload cut off by a crash is simply sent again on restart.
"""

from __future__ import annotations

import logging
import threading
import time
from contextlib import ExitStack
from typing import Callable, Optional

import requests
from tenacity import Retrying, before_sleep_log, retry_if_exception_type, wait_random_exponential

from edgecloud.clock import utcnow
from edgecloud.loops import BackgroundLoop
from edgecloud.protocol.client import ControllerClient

from .local import SNAPSHOT_FILE
from .session import refusal
from .spool import Entry, Spool

log = logging.getLogger(__name__)

PERMANENT = {400, 413, 415, 422}


class TransientUploadError(Exception):
    """Try again later (not sooner than ``retry_after`` seconds): the controller or the network is not there
    right now, or it refuses this device until its token or quota allows."""

    def __init__(self, message: str, retry_after: float = 0.0):
        super().__init__(message)
        self.retry_after = retry_after


def _retry_after(response: requests.Response) -> float:
    try:
        return max(0.0, float(response.headers.get("Retry-After", 0)))
    except ValueError:  # an HTTP date: rare from our controller; back off normally
        return 0.0


class RejectedUpload(Exception):
    """The controller refused this clip for good."""


class Uploader(BackgroundLoop):
    """A thread draining ``spool`` to ``controller_url``; see the module docstring."""

    def __init__(
        self,
        spool: Spool,
        controller_url: str,
        *,
        timeout_s: float = 30,
        retry_max_s: float = 60,
        retry_base_s: float = 0.5,
        stats=None,
        history=None,
        prepare: Optional[Callable[[Entry], Entry]] = None,
        on_uploaded: Optional[Callable[[Entry, dict], None]] = None,
        session_factory: Callable[[], requests.Session] = requests.Session,
    ):
        self.spool = spool
        self.url = controller_url.rstrip("/")
        self.timeout_s = timeout_s
        self.retry_max_s = retry_max_s
        self.retry_base_s = retry_base_s
        self.stats = stats
        self.history = history
        self.prepare = prepare
        self.on_uploaded = on_uploaded
        self.uploaded = 0
        self.controller = ControllerClient(controller_url, session=session_factory())
        self.session = self.controller.session
        self._wake = threading.Event()
        self._busy = False
        self._idle = threading.Condition()
        super().__init__()
        self.join_timeout_s = timeout_s + 5  # an upload in flight may take its whole timeout

    thread_name = "uploader"

    # --- public -------------------------------------------------------------
    def wake(self) -> None:
        """A new entry is ready: look now rather than at the next poll."""
        self._wake.set()

    def pending(self) -> list[Entry]:
        return self.spool.entries(stage="ready")

    def waiting_bytes(self) -> int:
        return sum(e.size for e in self.pending())

    def wait_drained(self, timeout: Optional[float] = None) -> bool:
        """Block until nothing ready is left and no upload is in flight."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            while self._busy or self.pending():
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._idle.wait(0.05 if remaining is None else min(0.05, remaining))
        return True

    def drain(self) -> int:
        """Upload everything ready now, in this thread, retrying until done or closed; returns uploads."""
        count = 0
        while not self._stop.is_set():
            entries = self.pending()
            if not entries:
                break
            count += self._send_with_retries(entries[0])
        return count

    def close(self) -> None:
        """Stop (an upload in flight is abandoned and stays spooled). Safe twice."""
        self.stop()
        self.session.close()

    def __exit__(self, *exc):
        self.close()

    def _wake_for_stop(self) -> None:
        self._wake.set()

    def __repr__(self) -> str:
        return f"<Uploader {self.url} uploaded={self.uploaded} busy={self._busy}>"

    # --- internals ------------------------------------------------------------
    def run(self, stop: threading.Event) -> None:
        while not self._stop.is_set():
            try:
                entries = self.pending()
                if not entries:
                    self._wake.wait(1.0)
                    self._wake.clear()
                    continue
                self._send_with_retries(entries[0])
            except Exception:  # noqa: BLE001 - a dead uploader would strand every later clip
                log.exception("uploader: unexpected error; going on in %.0f s", self.retry_max_s)
                self._stop.wait(self.retry_max_s)

    def _set_busy(self, busy: bool) -> None:
        with self._idle:
            self._busy = busy
            self._idle.notify_all()

    def _send_with_retries(self, entry: Entry) -> int:
        self._set_busy(True)
        try:
            retrying = Retrying(
                retry=retry_if_exception_type(TransientUploadError),
                wait=self._wait,
                stop=lambda state: self._stop.is_set(),
                sleep=self._stop.wait,  # backoff ends early when the agent stops
                before_sleep=before_sleep_log(log, logging.WARNING),
                reraise=True,
            )
            retrying(self._send, entry)
            return 1
        except TransientUploadError:
            return 0  # stopping; the entry stays spooled for next time
        except RejectedUpload as err:
            try:
                self.spool.reject(entry, str(err))
            except OSError:  # e.g. a full disk: the entry stays spooled and is sent (and judged) again
                log.exception("could not set aside refused clip %s; it stays in the spool", entry.clip_id)
                self._stop.wait(self.retry_max_s)
            return 0
        except FileNotFoundError:
            now = self.spool.refresh(entry)
            if now is not None and now.video_dropped:
                return 0  # dropped while being sent: its record goes next
            if (entry.path / "manifest.json").exists() and not entry.clip_path.exists():
                # The entry is still here but its clip is not: it can never be sent; don't spin on it.
                self.spool.reject(entry, f"clip file {entry.clip_path.name} is missing")
            else:
                log.warning("clip %s left the spool while being sent", entry.clip_id)
            return 0
        except Exception:  # noqa: BLE001 - the uploader must outlive a surprise; the entry stays
            log.exception("unexpected error sending clip %s; trying again in %.0f s", entry.clip_id, self.retry_max_s)
            self._stop.wait(self.retry_max_s)
            return 0
        finally:
            self._set_busy(False)

    def _wait(self, state) -> float:
        backoff = wait_random_exponential(multiplier=self.retry_base_s, max=self.retry_max_s)(state)
        return max(backoff, getattr(state.outcome.exception(), "retry_after", 0.0))

    def _send(self, entry: Entry) -> dict:
        if self.prepare is not None:
            entry = self.prepare(entry)
        # A record whose video the spool dropped goes without its clip part, and says so.
        metadata = {**entry.metadata, "video_dropped": True} if entry.video_dropped else entry.metadata
        nbytes = 0 if entry.video_dropped else entry.clip_path.stat().st_size
        started = time.monotonic()
        try:
            with ExitStack() as stack:
                clip = None
                if not entry.video_dropped:
                    fh = stack.enter_context(open(entry.clip_path, "rb"))
                    clip = (f"{entry.clip_id}{entry.clip_path.suffix}", fh, entry.metadata["content_type"])
                snapshot = entry.path / SNAPSHOT_FILE
                response = self.controller.upload(
                    metadata,
                    clip,
                    result=entry.result if entry.carries_result else None,
                    snapshot=snapshot.read_bytes() if entry.carries_result and snapshot.is_file() else None,
                    timeout=(5, self.timeout_s),
                )
        except requests.RequestException as err:
            raise TransientUploadError(f"clip {entry.clip_id}: {type(err).__name__}: {err}") from None
        seconds = time.monotonic() - started
        if response.status_code == 201:
            body = response.json()
            self._done(entry, body, nbytes, seconds)
            return body
        detail = response.text[:200]
        if response.status_code in PERMANENT:
            raise RejectedUpload(f"HTTP {response.status_code}: {detail}")
        if response.status_code in (401, 403):
            message = f"clip {entry.clip_id} stays spooled: {refusal(response, getattr(self.session, 'auth', None))}"
            log.error(message)
            raise TransientUploadError(message)
        if response.status_code == 429:
            raise TransientUploadError(
                f"clip {entry.clip_id} stays spooled: over quota, retry after "
                f"{response.headers.get('Retry-After')} s: {detail}",
                _retry_after(response),
            )
        raise TransientUploadError(f"clip {entry.clip_id}: HTTP {response.status_code}: {detail}")

    def _done(self, entry: Entry, body: dict, nbytes: int, seconds: float) -> None:
        if self.history is not None:
            self.history.observe_upload(nbytes, seconds)
        if self.stats is not None:
            # A drop is counted again from its record: the count holds even if the agent stopped right after it.
            dropped = (
                {
                    "video_dropped_at": entry.manifest.get("dropped_at"),
                    "bytes_dropped": entry.manifest.get("dropped_bytes", 0),
                }
                if entry.video_dropped
                else {}
            )
            self.stats.record(
                entry.clip_id, uploaded_at=utcnow(), upload_s=round(seconds, 4), bytes_sent=nbytes, **dropped
            )
        self.spool.remove(entry)
        self.uploaded += 1
        log.info(
            "uploaded %s (%d bytes in %.2f s)%s",
            entry.clip_id,
            nbytes,
            seconds,
            " - controller had it already" if body.get("duplicate") else "",
        )
        if self.on_uploaded is not None:
            try:
                self.on_uploaded(entry, body)
            except Exception:  # noqa: BLE001 - bookkeeping must not undo an upload
                log.exception("after uploading %s", entry.clip_id)
