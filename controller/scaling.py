"""The autoscaling loop: observe, ask the policy (``controller.autoscaler.decide``),
launch; and scale in: with no backlog, ask ``surplus`` workers to leave by
topping the retire queue up to that many asks (``retire_asks``), where an idle
worker past its billed first minute takes one and retires (worker/main.py).
The policy is pure; everything with AWS or a clock lives here.

With several controllers only the holder of the autoscaler lease
(controller/lease.py) decides and launches; the others observe, and try for
the lease every half interval. The leader publishes each observation to
CloudWatch (controller/cloudwatch.py); with ``fleet.scaling: target-tracking``
that is all it does, and the Auto Scaling group's policy scales."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Optional

from botocore.exceptions import ClientError

from edgecloud.clock import utcnow
from edgecloud.fleet_query import launch_times
from edgecloud.loops import BackgroundLoop
from edgecloud.workers import BOOTING, BUSY, POLLING, RETIRING, STATES, WorkerStates, counted_as

from .autoscaler import Observation, arrival_rate, decide, retire_asks
from .cloudwatch import CloudWatchPublisher
from .fleet.base import describe_workers
from .lease import FOLLOWER_TRY_INTERVALS, Lease
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
    leading: bool = True  # False: another controller holds the lease; this one only looked


class ScalingLoop(BackgroundLoop):
    """Every ``autoscaler.interval`` seconds: observe the queue and the fleet, launch what the policy says."""

    thread_name = "scaling"

    def __init__(
        self,
        parts: Resources,
        *,
        policy: Callable[..., int] = decide,
        retire_asks: Callable[..., int] = retire_asks,
        lease: Optional[Lease] = None,
    ):
        super().__init__()
        self.lease = lease  # None: the only controller, always in charge
        self.parts = parts  # settings, store, fleet, ledger, metrics: the app's own
        self.policy = policy
        self.retire_asks = retire_asks
        self.launched_total = 0
        self.asked_total = 0  # retire asks sent
        self._asks_warned = False
        self.requested_total = 0
        self.last: Optional[Step] = None
        self.worker_states = WorkerStates(parts.aws, parts.settings.tables.workers)
        self._states_warned = False
        self.publisher = CloudWatchPublisher(parts.aws, parts.settings.fleet.name)
        self.steps = 0  # steps the thread has taken; ``wait_for`` waits on them, not on a clock
        self._stepped = threading.Condition()

    def observe(self) -> Observation:
        depth = self.parts.store.queue_depth()
        workers = self.workers_by_state()
        a = self.parts.settings.autoscaler
        _, recent_process_s = self.parts.ledger.medians()
        now = utcnow()
        submitted, latest = self.parts.ledger.cloud_submissions(now - timedelta(seconds=a.rate_window_s))
        quiet_s = (now - latest).total_seconds() if latest else None
        return Observation(
            visible=depth["visible"],
            in_flight=depth["in_flight"],
            booting=len(workers[BOOTING]),
            polling=len(workers[POLLING]) + len(workers[BUSY]),
            busy=len(workers[BUSY]),
            retiring=len(workers[RETIRING]),
            booting_s=self.booted_s(workers[BOOTING]),
            process_time_s=recent_process_s or a.process_time_s,
            boot_time_s=a.boot_time_s,
            arrival_rate=arrival_rate(submitted, self.history_s(now), a, quiet_s),
            quiet_s=quiet_s,
        )

    def workers_by_state(self) -> dict[str, list[str]]:
        """Live fleet instances by the state their workers reported; without the
        workers' table (a stack from before it), EC2's pending / running stand in."""
        live = self.parts.fleet.ids()
        try:
            reported = self.worker_states.reported()
        except ClientError as err:
            if not self._states_warned:
                log.warning(
                    "cannot read workers' states from %s (%s); counting EC2's running as polling",
                    self.worker_states.table,
                    err.response.get("Error", {}).get("Code"),
                )
                self._states_warned = True
            ec2 = describe_workers(self.parts.aws, self.parts.settings.fleet.name)
            reported = {i: POLLING for i in live if ec2.get(i) == "running"}
        return {state: [i for i in live if counted_as(reported.get(i, BOOTING)) == state] for state in STATES}

    def booted_s(self, booting: list[str]) -> tuple[float, ...]:
        """Seconds each booting worker has booted so far, from EC2's launch times."""
        launched = launch_times(self.parts.aws, booting)
        now = utcnow()
        return tuple(max(0.0, (now - launched[i]).total_seconds()) for i in booting if i in launched)

    def history_s(self, now) -> float:
        """Seconds of submissions the ledger has seen: the rate is measured over
        no more than that. Not this process's uptime: the ledger outlives a
        restart, and its window of clips divided by a minute of uptime read up
        to rate_window_s / 60 times the real rate."""
        first = self.parts.ledger.first_submitted()
        return (now - first).total_seconds() if first else 0.0

    def step(self) -> Step:
        leading = self.lease is None or self.lease.acquire()
        obs = self.observe()
        if not leading:
            self.last = Step(obs, 0, leading=False)
            return self.last
        tracking = self.parts.settings.fleet.scaling == "target-tracking"
        if tracking:
            # The group's target-tracking policy scales on the metric published below, in and out, but
            # never out of zero (a backlog per worker of 5 against a target of 20 asks for nothing):
            # a backlog with no worker up or booting gets one here.
            wanted = 1 if obs.visible and not obs.workers else 0
        else:
            wanted = max(0, int(self.policy(obs, self.parts.settings.autoscaler)))
        # The policy promises the cap; enforce it here too, counting booting and retiring workers.
        room = max(0, self.parts.settings.autoscaler.max_workers - obs.workers - obs.retiring)
        wanted = min(wanted, room)
        if wanted and self.lease is not None and not self.lease.still_held():
            log.warning("the lease ran out during this step: launching nothing")
            wanted = 0
        launched = self.parts.fleet.launch(wanted) if wanted else []
        self.requested_total += wanted
        self.launched_total += len(launched)
        if self.parts.metrics and launched:
            self.parts.metrics.workers_launched.inc(len(launched))
        if wanted:
            log.info(
                "queue %d+%d, workers %d+%d: launching %d", obs.visible, obs.in_flight, obs.booting, obs.polling, wanted
            )
        asked = 0 if wanted or tracking else self.ask_surplus_to_retire(obs)
        self.last = Step(obs, wanted, launched, asked)
        self.publish(obs)  # after the launch: however slow the ledger's figures, they never hold it up
        return self.last

    def publish(self, obs: Observation) -> None:
        """Tell CloudWatch what was seen; whatever fails there, scaling goes on."""
        try:
            self.publisher.publish(obs, self.parts.ledger, utcnow())
        except Exception:
            log.warning("publishing metrics failed; scaling goes on", exc_info=True)

    def ask_surplus_to_retire(self, obs: Observation) -> int:
        """Top the retire queue up to the asks the policy wants (``retire_asks``:
        surplus workers, none while a backlog waits); returns how many were sent."""
        n = max(0, int(self.retire_asks(obs, self.parts.settings.autoscaler)))
        if not n:
            return 0
        try:
            outstanding = self.parts.store.retire_asks_outstanding()
            asked = self.parts.store.ask_to_retire(n - outstanding) if n > outstanding else 0
        except ClientError as err:
            if not self._asks_warned:  # e.g. a stack from before the retire queue: workers still time out
                log.warning(
                    "cannot ask workers to retire (%s); they leave by idle timeout only",
                    err.response.get("Error", {}).get("Code"),
                )
                self._asks_warned = True
            return 0
        self.asked_total += asked
        if self.parts.metrics and asked:
            self.parts.metrics.retire_asks.inc(asked)
        if asked:
            log.info(
                "queue %d+%d, workers %d+%d, %d may leave: %d retire asks sent (%d outstanding)",
                obs.visible,
                obs.in_flight,
                obs.booting,
                obs.polling,
                n,
                asked,
                outstanding,
            )
        return asked

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                self.step()
            except Exception:
                log.exception("scaling step failed; trying again next interval")
            with self._stepped:
                self.steps += 1
                self._stepped.notify_all()
            # Paced from each step's start, so a slow step does not push the lease's renewal late.
            stop.wait(max(0.0, self.pause_s() - (time.monotonic() - started)))

    def wait_for(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds after one of the thread's steps (or ``timeout``)."""
        with self._stepped:
            return self._stepped.wait_for(predicate, timeout)

    def pause_s(self) -> float:
        """A leader steps every interval; a follower tries for the lease twice as often."""
        interval = self.parts.settings.autoscaler.interval
        return interval if self.lease is None or self.lease.held else interval * FOLLOWER_TRY_INTERVALS
