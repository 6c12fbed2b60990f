"""Detection on the Pi: one clip at a time, in a thread of its own, timed.

The detector is made on first use (``edgecloud.detect.detector_for``); the
work is ``edgecloud.pipeline.analyse_clip``, which never raises for a bad clip.
``analyse`` can be replaced (tests, simulations) by any callable with the same
signature as ``analyse_clip`` minus the detector.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Optional

log = logging.getLogger(__name__)
SNAPSHOT_FILE = "snapshot.jpg"


class LocalProcessor:
    """A one-clip-at-a-time queue; ``on_done(item, result, seconds)`` is called for each item."""

    def __init__(self, settings, on_done: Callable, *, analyse: Optional[Callable] = None):
        self.settings = settings
        self.detector_settings = settings.detector
        self.on_done = on_done
        self._analyse = analyse
        self._detector = None
        self._queue: queue.Queue = queue.Queue()
        self._busy = 0
        self._cond = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self.processed = 0
        self._stopping = False

    def start(self) -> "LocalProcessor":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="local-detect", daemon=True)
            self._thread.start()
        return self

    def submit(self, item, *, path, clip_id: str, fps: Optional[float], recorded_at=None) -> None:
        with self._cond:
            self._busy += 1
        self._queue.put((item, dict(path=path, clip_id=clip_id, fps=fps, recorded_at=recorded_at)))

    @property
    def waiting(self) -> int:
        """Clips queued or being processed."""
        with self._cond:
            return self._busy

    def wait_idle(self, timeout: Optional[float] = None) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout)

    def close(self) -> None:
        """Stop after the clip in hand; clips still queued stay in the spool, placed again on restart."""
        self._stopping = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(60)
            self._thread = None

    def __repr__(self) -> str:
        return f"<LocalProcessor waiting={self.waiting} processed={self.processed}>"

    def analyse(self, **kwargs):
        if self._analyse is not None:
            return self._analyse(**kwargs)
        from edgecloud.detect import detector_for
        from edgecloud.pipeline import analyse_clip

        if self._detector is None:
            self._detector = detector_for(self.settings)
        path = kwargs.pop("path")
        # The snapshot waits beside the clip in its spool entry and goes up with it.
        return analyse_clip(path, self._detector, self.detector_settings, processed_by="edge",
                            snapshot_path=path.parent / SNAPSHOT_FILE, limits=self.settings.limits, **kwargs)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._stopping:
                return
            item, kwargs = job
            started = time.monotonic()
            try:
                result = self.analyse(**kwargs)
            except Exception as err:  # noqa: BLE001 - a detector crash must not stop the agent
                log.exception("local detection of %s failed", kwargs["clip_id"])
                result = err
            seconds = time.monotonic() - started
            try:
                self.on_done(item, result, seconds)
            except Exception:  # noqa: BLE001
                log.exception("after local detection of %s", kwargs["clip_id"])
            finally:
                with self._cond:
                    self._busy -= 1
                    self.processed += 1
                    self._cond.notify_all()
