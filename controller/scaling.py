"""The autoscaling loop: observe, ask the policy (``controller.autoscaler.decide``),
launch; and scale in: with no backlog, ask ``surplus`` workers to leave by
topping the retire queue up to that many asks (``retire_asks``), where an idle
worker past its billed first minute takes one and retires (worker/main.py).
The policy is pure; everything with AWS or a clock lives here."""
from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Optional

from botocore.exceptions import ClientError

from edgecloud.jobs import utcnow
from edgecloud.loops import BackgroundLoop

from .autoscaler import Observation, arrival_rate, decide, retire_asks
from .resources import Resources

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Step:
    """One decision: what was seen, how many were asked for, which instances started,
    and how many retire asks went out (scale-in)."""

    observation: Observation
    wanted: int
    launched: list[str] = field(default_factory=list)
    asked: int = 0


class ScalingLoop(BackgroundLoop):
    """Every ``autoscaler.interval`` seconds: observe the queue and the fleet, launch what the policy says."""

    thread_name = "scaling"

    def __init__(self, parts: Resources, *, policy: Callable[..., int] = decide,
                 scale_in: Callable[..., int] = retire_asks):
        super().__init__()
        self.parts = parts  # settings, store, fleet, ledger, metrics: the app's own
        self.policy = policy
        self.scale_in = scale_in
        self.launched_total = 0
        self.asked_total = 0  # retire asks sent
        self._asks_warned = False
        self.requested_total = 0
        self.last: Optional[Step] = None
        self.started = time.monotonic()  # the arrival rate is not measured over more than we have seen

    def observe(self) -> Observation:
        depth = self.parts.store.queue_depth()
        workers = self.parts.fleet.states()
        a = self.parts.settings.autoscaler
        _, recent_process_s = self.parts.ledger.medians()
        now = utcnow()
        submitted, latest = self.parts.ledger.cloud_submissions(now - timedelta(seconds=a.rate_window_s))
        return Observation(
            visible=depth["visible"], in_flight=depth["in_flight"],
            booting=workers["pending"], polling=workers["running"],  # EC2 states stand in for the workers' own
            process_time_s=recent_process_s or a.process_time_s, boot_time_s=a.boot_time_s,
            arrival_rate=arrival_rate(submitted, time.monotonic() - self.started, a),
            quiet_s=(now - latest).total_seconds() if latest else None,
        )

    def step(self) -> Step:
        obs = self.observe()
        wanted = max(0, int(self.policy(obs, self.parts.settings.autoscaler)))
        # The policy promises the cap; enforce it here too, counting booting workers.
        room = max(0, self.parts.settings.autoscaler.max_workers - obs.workers)
        wanted = min(wanted, room)
        launched = self.parts.fleet.launch(wanted) if wanted else []
        self.requested_total += wanted
        self.launched_total += len(launched)
        if self.parts.metrics and launched:
            self.parts.metrics.workers_launched.inc(len(launched))
        if wanted:
            log.info("queue %d+%d, workers %d+%d: launching %d", obs.visible, obs.in_flight, obs.booting,
                     obs.polling, wanted)
        asked = 0 if wanted else self.ask_surplus_to_retire(obs)
        self.last = Step(obs, wanted, launched, asked)
        return self.last

    def ask_surplus_to_retire(self, obs: Observation) -> int:
        """Top the retire queue up to the asks the policy wants (``retire_asks``:
        surplus workers, none while a backlog waits); returns how many were sent."""
        n = max(0, int(self.scale_in(obs, self.parts.settings.autoscaler)))
        if not n:
            return 0
        try:
            outstanding = self.parts.store.retire_asks_outstanding()
            asked = self.parts.store.ask_to_retire(n - outstanding) if n > outstanding else 0
        except ClientError as err:
            if not self._asks_warned:  # e.g. a stack from before the retire queue: workers still time out
                log.warning("cannot ask workers to retire (%s); they leave by idle timeout only",
                            err.response.get("Error", {}).get("Code"))
                self._asks_warned = True
            return 0
        self.asked_total += asked
        if self.parts.metrics and asked:
            self.parts.metrics.retire_asks.inc(asked)
        if asked:
            log.info("queue %d+%d, workers %d+%d, %d may leave: %d retire asks sent (%d outstanding)",
                     obs.visible, obs.in_flight, obs.booting, obs.polling, n, asked, outstanding)
        return asked

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.step()
            except Exception:
                log.exception("scaling step failed; trying again next interval")
            stop.wait(self.parts.settings.autoscaler.interval)
