"""Where each clip is processed: small pure policies over the agent's measured history.

* ``busy-offload`` - the seed's rule: on the Pi when it is free, else to the cloud.
* ``fastest-finish`` (default) - estimate when the clip would finish on the Pi
  (clips ahead of it x measured seconds per clip) and in the cloud (bytes
  ahead of it / measured upload rate + the cloud upload_to_result the controller
  reports, or our own measured one if later, + the wait behind its queue),
  and pick the earlier; a tie stays on the Pi (no bandwidth spent).
* ``escalate-uncertain`` - always on the Pi, and also to the cloud when the
  Pi's result is unsure (failed, or a label scored under ``escalate_below``).

Each policy also says why, in words (``reason``): the demo's table and the Pi's stats show it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Optional

from edgecloud.protocol.states import Placement

EDGE, CLOUD = Placement.EDGE, Placement.CLOUD

# Guesses used until the agent has measured its own (replaced after one clip each).
PRIOR_LOCAL_S = 5.0
PRIOR_UPLOAD_BPS = 1_000_000.0
PRIOR_UPLOAD_TO_RESULT_S = 10.0


class History:
    """Exponentially weighted recent measurements: seconds per local clip, upload bytes/s,
    and cloud upload_to_result (upload done -> result seen), plus the controller's own figure."""

    def __init__(self, alpha: float = 0.3):
        self.alpha = alpha
        self.local_s: Optional[float] = None
        self.upload_bps: Optional[float] = None
        self.upload_to_result_s: Optional[float] = None
        self.controller_upload_to_result_s: Optional[float] = None
        # The controller's queue at its last report, and our clips sent since.
        self._queue: Optional[tuple[int, int, float]] = None  # (waiting jobs, running workers, s per job)
        self._sent_since_report = 0
        self._lock = threading.Lock()

    def _blend(self, old: Optional[float], new: float) -> float:
        return new if old is None else (1 - self.alpha) * old + self.alpha * new

    def observe_local(self, seconds: float) -> None:
        with self._lock:
            self.local_s = self._blend(self.local_s, seconds)

    def observe_upload(self, nbytes: int, seconds: float) -> None:
        if seconds > 0 and nbytes > 0:
            with self._lock:
                self.upload_bps = self._blend(self.upload_bps, nbytes / seconds)

    def observe_upload_to_result(self, seconds: float) -> None:
        with self._lock:
            self.upload_to_result_s = self._blend(self.upload_to_result_s, seconds)

    def observe_cloud_queue(self, waiting: Optional[int], running: Optional[int], process_s: Optional[float]) -> None:
        """The controller's ``/v1/stats``: jobs waiting, workers running, median seconds per job."""
        with self._lock:
            self._queue = None if process_s is None else (waiting or 0, max(running or 0, 1), process_s)
            self._sent_since_report = 0

    def note_offload(self) -> None:
        with self._lock:
            self._sent_since_report += 1

    def cloud_backlog_s(self) -> float:
        """Time a new job would wait behind the queue (and our own clips sent since the last report)."""
        with self._lock:
            if self._queue is None:
                return 0.0
            waiting, running, process_s = self._queue
            return (waiting + self._sent_since_report) * process_s / running

    def cloud_upload_to_result(self) -> float:
        """The later of the controller's recent median (submit -> done, in the cloud) and our own
        (upload done -> result seen here, cold starts included); a guess until either is known."""
        known = [v for v in (self.controller_upload_to_result_s, self.upload_to_result_s) if v is not None]
        return max(known) if known else PRIOR_UPLOAD_TO_RESULT_S

    @classmethod
    def from_records(cls, records, alpha: float = 0.3) -> "History":
        """Replay the stats store's records (oldest first) so a restarted agent remembers."""
        history = cls(alpha)
        for r in records:
            if r.local_s:
                history.observe_local(r.local_s)
            if r.upload_s and r.bytes_sent:
                history.observe_upload(r.bytes_sent, r.upload_s)
            if r.placement in (Placement.CLOUD, Placement.BOTH) and r.uploaded_at and r.result_at:
                history.observe_upload_to_result(max((r.result_at - r.uploaded_at).total_seconds(), 0.0))
        return history

    def __repr__(self) -> str:
        def f(v):
            return "?" if v is None else f"{v:.3g}"

        return (
            f"<History local={f(self.local_s)}s upload={f(self.upload_bps)}B/s "
            f"upload_to_result={f(self.upload_to_result_s)}s controller={f(self.controller_upload_to_result_s)}s>"
        )


@dataclass(frozen=True)
class Situation:
    """What a policy sees when a clip is ready."""

    clip_bytes: int
    local_waiting: int = 0  # clips queued or being processed on the Pi
    upload_waiting_bytes: int = 0  # bytes in the spool ahead of this clip
    local_s: float = PRIOR_LOCAL_S
    upload_bps: float = PRIOR_UPLOAD_BPS
    upload_to_result_s: float = PRIOR_UPLOAD_TO_RESULT_S
    busy_with: Optional[str] = None  # the clip the Pi is analysing
    busy_for_s: float = 0.0  # how long it has been at it
    local_s_measured: bool = True  # False: local_s is the prior, no clip timed yet

    @classmethod
    def now(
        cls,
        history: History,
        clip_bytes: int,
        local_waiting: int,
        upload_waiting_bytes: int,
        busy_with: Optional[tuple[str, float]] = None,
    ) -> "Situation":
        clip, busy_for = busy_with or (None, 0.0)
        return cls(
            clip_bytes=clip_bytes,
            local_waiting=local_waiting,
            upload_waiting_bytes=upload_waiting_bytes,
            local_s=history.local_s or PRIOR_LOCAL_S,
            upload_bps=history.upload_bps or PRIOR_UPLOAD_BPS,
            upload_to_result_s=history.cloud_upload_to_result() + history.cloud_backlog_s(),
            busy_with=clip,
            busy_for_s=busy_for,
            local_s_measured=history.local_s is not None,
        )

    @property
    def local_finish_s(self) -> float:
        return (self.local_waiting + 1) * self.local_s

    @property
    def pi_free_in_s(self) -> float:
        """Estimated seconds until the Pi has finished every clip it holds (the one in hand part done)."""
        if self.local_waiting == 0:
            return 0.0
        in_hand = max(self.local_s - self.busy_for_s, 0.0) if self.busy_with else self.local_s
        return in_hand + (self.local_waiting - 1) * self.local_s

    def pi_state(self) -> str:
        """The Pi's load in words: "the Pi was free", or busy with which clip until about when."""
        if self.local_waiting == 0:
            return "the Pi was free"
        # No clip in hand: one was handed over and is about to begin.
        busy = f"busy with clip {self.busy_with} ({self.busy_for_s:.1f} s in)" if self.busy_with else "beginning a clip"
        more = f" and {self.local_waiting - 1} more queued" if self.local_waiting > 1 else ""
        if self.busy_with and self.busy_for_s > self.local_s:  # slower than estimated: say so, not "in 0.0 s"
            eta = f"past its estimated {self.local_s:.1f} s"
            eta += f", the rest estimated to finish in {self.pi_free_in_s:.1f} s" if more else ""
        else:
            eta = f"estimated finish in {self.pi_free_in_s:.1f} s"
        guess = "" if self.local_s_measured else " (a guess: no clip timed on this Pi yet)"
        return f"the Pi was {busy}{more}, {eta}{guess}"

    @property
    def cloud_finish_s(self) -> float:
        return (self.upload_waiting_bytes + self.clip_bytes) / self.upload_bps + self.upload_to_result_s


class Policy:
    """Decides ``place(situation) -> "edge" | "cloud"``; may ask to ``escalate`` a Pi result."""

    name = "policy"

    def place(self, situation: Situation) -> str:
        raise NotImplementedError

    def escalate(self, result) -> bool:
        return False

    def reason(self, situation: Situation, placement: str) -> str:
        """Why ``placement``, in words: here, how busy the Pi was (all ``busy-offload`` looks at)."""
        return situation.pi_state()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name}>"


class BusyOffload(Policy):
    name = "busy-offload"

    def place(self, situation: Situation) -> str:
        return EDGE if situation.local_waiting == 0 else CLOUD


class FastestFinish(Policy):
    name = "fastest-finish"

    def place(self, situation: Situation) -> str:
        return EDGE if situation.local_finish_s <= situation.cloud_finish_s else CLOUD

    def reason(self, situation: Situation, placement: str) -> str:
        pi, cloud = f"the Pi's {situation.local_finish_s:.1f} s", f"the cloud's {situation.cloud_finish_s:.1f} s"
        first = f"{pi}, no later than {cloud}" if placement == EDGE else f"{cloud}, before {pi}"
        return f"{situation.pi_state()}; estimated result in {first}"


class EscalateUncertain(Policy):
    name = "escalate-uncertain"

    def __init__(self, below: float = 0.6):
        self.below = below

    def place(self, situation: Situation) -> str:
        return EDGE

    def reason(self, situation: Situation, placement: str) -> str:
        return f"every clip on the Pi first, the cloud too if unsure under {self.below:g} ({situation.pi_state()})"

    def escalate(self, result) -> bool:
        if result.status != "done":
            return True
        return any(s.best_score < self.below for s in result.summary.values())


POLICIES = {cls.name: cls for cls in (BusyOffload, FastestFinish, EscalateUncertain)}


def create_policy(name: str, escalate_below: float = 0.6) -> Policy:
    if name not in POLICIES:
        raise ValueError(f"unknown policy {name!r}: one of {sorted(POLICIES)}")
    return EscalateUncertain(escalate_below) if name == EscalateUncertain.name else POLICIES[name]()
