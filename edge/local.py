"""Detection on the Pi: one clip at a time, in a thread of its own, timed.

The detector is made on first use (``edgecloud.detect.detector_for``); the
work is ``edgecloud.pipeline.analyse_clip``, which never raises for a bad clip.
``analyse`` can be replaced (tests, simulations) by any callable with the same
signature as ``analyse_clip`` minus the detector.

This machine playing a Pi (``edge.emulated_pi_slowdown`` over 1: the demo, edge
simulate) analyses each clip for real, then holds it until it has taken a Pi's
time, so the Pi is busy as long as a real one would be and a burst overflows
to the cloud however fast this machine is.
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

    def __init__(
        self,
        settings,
        on_done: Callable,
        *,
        analyse: Optional[Callable] = None,
        clock: Callable[[], float] = time.monotonic,
        hold: Optional[Callable[[float], object]] = None,
    ):
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
        self._stopping = threading.Event()
        self.slowdown = settings.edge.emulated_pi_slowdown
        self._clock = clock
        self._hold = hold or self._stopping.wait  # a pace held to a Pi's ends early on close
        self._current: Optional[tuple[str, float]] = None  # (clip id, clock when its analysis began)

    def start(self) -> "LocalProcessor":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="local-detect", daemon=True)
            self._thread.start()
        return self

    def submit(self, item, *, path, clip_id: str, fps: Optional[float], recorded_at=None) -> None:
        with self._cond:
            self._busy += 1
        self._queue.put((item, dict(path=path, clip_id=clip_id, fps=fps, recorded_at=recorded_at)))

    def busy_with(self) -> Optional[tuple[str, float]]:
        """The clip being analysed and the seconds it has taken so far; None while the Pi is idle."""
        with self._cond:
            current = self._current
        return None if current is None else (current[0], self._clock() - current[1])

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
        self._stopping.set()
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(60)
            self._thread = None

    def __repr__(self) -> str:
        return f"<LocalProcessor waiting={self.waiting} processed={self.processed}>"

    def analyse(self, **kwargs):
        if self._analyse is not None:
            return self._analyse(**kwargs)
        from edgecloud.pipeline import analyse_clip

        self._load_detector()
        path = kwargs.pop("path")
        # The snapshot waits beside the clip in its spool entry and goes up with it.
        return analyse_clip(
            path,
            self._detector,
            self.detector_settings,
            processed_by="edge",
            snapshot_path=path.parent / SNAPSHOT_FILE,
            limits=self.settings.limits,
            zones=self.settings.zones.of(self.settings.edge.device_id),
            **kwargs,
        )

    def _load_detector(self) -> None:
        """Made once, before the first clip's clock starts: loading is not analysis."""
        if self._analyse is None and self._detector is None:
            from edgecloud.detect import detector_for

            self._detector = detector_for(self.settings)

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is None or self._stopping.is_set():
                return
            item, kwargs = job
            started = self._clock()
            with self._cond:  # busy with it from now, the detector's first load included
                self._current = (kwargs["clip_id"], started)
            try:
                self._load_detector()
                started = self._clock()  # the pace counts analysis only
                result = self.analyse(**kwargs)
            except Exception as err:  # noqa: BLE001 - a detector crash must not stop the agent
                log.exception("local detection of %s failed", kwargs["clip_id"])
                result = err
            if self.slowdown > 1:  # a Pi's time: this machine's, times the slowdown
                self._hold((self.slowdown - 1) * (self._clock() - started))
            seconds = self._clock() - started
            try:
                self.on_done(item, result, seconds)
            except Exception:  # noqa: BLE001
                log.exception("after local detection of %s", kwargs["clip_id"])
            finally:
                with self._cond:
                    self._current = None
                    self._busy -= 1
                    self.processed += 1
                    self._cond.notify_all()
