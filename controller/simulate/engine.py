"""Discrete-event simulation of one policy on one trace.

Events (a heap): a worker finishes booting, finishes a clip, finishes an
empty poll; the autoscaler ticks every ``interval``. Arrivals are not
events while every worker is busy: they only grow the queue, so they are
counted in bulk (a bisect over the sorted trace) at the next event. Work per
clip is one heap push and pop, which is what lets a million clips run in
seconds.

SQS, approximated: the queue is first in, first out; a job a worker holds is
in flight; an idle worker long-polls, so it takes a new clip the moment it
arrives; when several wait, a random one gets it (seeded). A worker that
finds nothing checks its retirement rule after each empty poll (``poll_wait_s``
seconds; at once when it was asked to leave, polls short, or has just
finished a job: the real worker's next poll is then short). Retire asks are
a queue of their own (``retire_asks``); what a run measured is an
``Outcome`` (``outcome``).
"""

from __future__ import annotations

import heapq
import math
from bisect import bisect_left, bisect_right

import numpy as np

from edgecloud.config import AutoscalerSettings
from edgecloud.controller.autoscaler import Observation, arrival_rate
from edgecloud.retirement import EC2_MINIMUM_BILLED_S

from .billing import billed_seconds
from .outcome import Outcome
from .policies import SimPolicy
from .retire_asks import RetireAsks
from .sim_fleet import BUSY, GONE, IDLE, SimFleet

DONE, READY, POLL, CHECK, TICK = range(5)  # same-time order: work first, then decisions
EWMA = 0.05  # weight of each new measurement in the observed process / boot times


def simulate(
    policy: SimPolicy,
    submitted: np.ndarray,
    process_s: np.ndarray,
    boot_s: np.ndarray,
    settings: AutoscalerSettings,
    *,
    seed: int = 0,
    tail_s: float = 600.0,
    give_up_s: float = 7 * 86400.0,
) -> Outcome:
    """Run ``policy`` on clips submitted at ``submitted`` (sorted) taking
    ``process_s`` each; the k-th launch boots in ``boot_s[k % len]``. Ends at
    the first tick with every clip done, every worker gone and none launched
    (so a policy that relaunches after the last clip is billed for it), or
    ``tail_s`` after the last clip finished (workers still up are billed to then)."""
    return Simulation(
        policy, submitted, process_s, boot_s, settings, seed=seed, tail_s=tail_s, give_up_s=give_up_s
    ).run()


class Simulation:
    """One run: the clock and queue counters, the fleet, the event heap and the retire asks.
    ``run`` pops events and hands each to its step (``on_done``, ``on_ready``, ``on_poll``,
    ``on_tick``); a worker's life is ``start``, ``go_idle``, ``consider`` and ``retire``."""

    def __init__(
        self,
        policy: SimPolicy,
        submitted: np.ndarray,
        process_s: np.ndarray,
        boot_s: np.ndarray,
        settings: AutoscalerSettings,
        *,
        seed: int,
        tail_s: float,
        give_up_s: float,
    ):
        self.policy, self.settings, self.submitted = policy, settings, submitted
        self.tail_s, self.give_up_s = tail_s, give_up_s
        self.arr = submitted.tolist()
        self.proc = process_s.tolist()
        self.boots = boot_s.tolist()
        self.n = len(self.arr)
        self.finished = [math.nan] * self.n
        self.rng = np.random.default_rng(seed)
        self.picks, self.pick_i = self.rng.random(4096).tolist(), 0
        self.fleet = SimFleet()
        self.heap: list = []
        self.seq = 0
        self.arrived = self.taken = self.done = 0  # clips submitted, taken by a worker, finished
        self.p_seen, self.boot_seen = settings.process_time_s, settings.boot_time_s
        self.rule, self.wait = policy.retirement, policy.poll_wait_s
        self.timeline: dict = {"t": [], "visible": [], "in_flight": [], "workers": []}
        self.asks = RetireAsks()
        self.end, self.now = (math.inf if self.n else tail_s), 0.0

    def run(self) -> Outcome:
        heap, arr, n, fleet = self.heap, self.arr, self.n, self.fleet
        self.push(0.0, TICK)
        while heap:
            if fleet.idle and self.arrived < n and arr[self.arrived] <= heap[0][0]:
                self.hand_to_idle_worker()
                continue
            t, kind, _, w, tok = heapq.heappop(heap)
            if t > self.end:
                self.now = self.end
                break
            self.now = t
            if self.arrived < n and arr[self.arrived] <= t:
                self.arrived = bisect_right(arr, t, self.arrived)
            if kind == DONE:
                self.on_done(w, t)
            elif kind == READY:
                self.on_ready(w, t)
            elif kind == POLL or kind == CHECK:
                self.on_poll(w, t, tok, again=kind == POLL)
            elif not self.on_tick(t):
                break
        return self.outcome()

    def push(self, t, kind, w=-1, tok=0):
        self.seq += 1
        heapq.heappush(self.heap, (t, kind, self.seq, w, tok))

    def hand_to_idle_worker(self):
        """The next clip arrives while a worker long-polls: a random idle one gets it then."""
        ta = self.arr[self.arrived]
        self.arrived += 1
        if self.pick_i == len(self.picks):
            self.picks, self.pick_i = self.rng.random(4096).tolist(), 0
        w = self.fleet.idle[int(self.picks[self.pick_i] * len(self.fleet.idle))]
        self.pick_i += 1
        self.fleet.pop_idle(w)
        self.start(w, ta)

    def on_done(self, w, t):
        fleet = self.fleet
        self.finished[fleet.job[w]] = t
        self.done += 1
        self.p_seen += EWMA * (t - fleet.started[w] - self.p_seen)
        fleet.tasks[w] += 1
        fleet.busy -= 1
        if self.taken < self.arrived:
            self.start(w, t)
        else:
            self.go_idle(w, t, short=True)
            if self.done == self.n:
                self.end = t + self.tail_s

    def on_ready(self, w, t):
        fleet = self.fleet
        fleet.pending -= 1
        fleet.booting.discard(w)
        self.boot_seen += EWMA * (t - fleet.launched[w] - self.boot_seen)
        if self.taken < self.arrived:
            self.start(w, t)
        else:
            self.go_idle(w, t)

    def on_poll(self, w, t, tok, *, again: bool):
        """An empty poll ended (``again``: poll once more) or a minimum-uptime check came due."""
        fleet = self.fleet
        if fleet.state[w] == IDLE and fleet.token[w] == tok:
            self.consider(w, t)
            if again and fleet.state[w] == IDLE:
                self.push(t + (self.wait if self.wait > 0 else 1.0), POLL, w, tok)

    def on_tick(self, t) -> bool:
        """The autoscaler observes, the policy acts; False when the run is over."""
        fleet, arr, arrived, settings = self.fleet, self.arr, self.arrived, self.settings
        recent = arrived - bisect_left(arr, t - settings.rate_window_s, 0, arrived) if arrived else 0
        quiet_s = (t - arr[arrived - 1]) if arrived else None
        obs = Observation(
            visible=arrived - self.taken,
            in_flight=fleet.busy,
            booting=fleet.pending,
            polling=len(fleet.alive) - fleet.pending,
            busy=fleet.busy,  # retiring: instant here
            process_time_s=max(self.p_seen, 1e-3),
            boot_time_s=self.boot_seen,
            arrival_rate=arrival_rate(recent, t, settings, quiet_s),
            quiet_s=quiet_s,
            booting_s=tuple(t - fleet.launched[v] for v in fleet.booting),
        )
        action = self.policy.tick(obs, t)
        room = settings.max_workers - len(fleet.alive)
        for _ in range(max(0, min(action.launch, room))):
            v = fleet.add(t)
            self.push(t + self.boots[v % len(self.boots)], READY, v)
        if action.drain is not None:
            self.set_asked(action.drain, t)
        if action.ask is not None:
            self.asks.top_up(action.ask, t)
        for key, value in (
            ("t", t),
            ("visible", obs.visible),
            ("in_flight", obs.in_flight),
            ("workers", len(fleet.alive)),
        ):
            self.timeline[key].append(value)
        if self.done == self.n and not fleet.alive:
            return False
        if t > (arr[-1] if self.n else 0.0) + self.give_up_s:
            return False  # a policy that never finishes (e.g. no workers allowed)
        self.push(t + settings.interval, TICK)
        return True

    def start(self, w, t):
        fleet = self.fleet
        fleet.state[w] = BUSY
        fleet.busy += 1
        fleet.job[w] = self.taken
        fleet.started[w] = t
        self.push(t + self.proc[self.taken], DONE, w)
        self.taken += 1

    def retire(self, w, t):
        fleet = self.fleet
        if fleet.state[w] == IDLE:
            fleet.pop_idle(w)
        fleet.state[w] = GONE
        fleet.ended[w] = t
        fleet.alive.discard(w)
        fleet.n_asked -= fleet.asked[w]

    def consider(self, w, t):
        """Worker w is idle at t: retire by its rule (or on a retire ask it
        would act on), or wait for the next check."""
        fleet, rule = self.fleet, self.rule
        idle_s, uptime_s = t - fleet.idle_since[w], t - fleet.launched[w]
        if rule.should_retire(idle_s, False, tasks_done=fleet.tasks[w], uptime_s=uptime_s, asked=fleet.asked[w]):
            self.retire(w, t)
            return
        if self.asks.waiting(t) and rule.should_retire(
            idle_s, False, tasks_done=fleet.tasks[w], uptime_s=uptime_s, asked=True
        ):
            self.asks.take()
            self.retire(w, t)
            return
        if fleet.asked[w] and uptime_s < EC2_MINIMUM_BILLED_S:
            self.push(fleet.launched[w] + EC2_MINIMUM_BILLED_S, CHECK, w, fleet.token[w])

    def go_idle(self, w, t, short=False):
        fleet = self.fleet
        fleet.state[w] = IDLE
        fleet.idle_since[w] = t
        fleet.token[w] += 1
        fleet.push_idle(w)
        if self.wait <= 0 or short or fleet.asked[w]:
            self.consider(w, t)  # a short poll: it knows at once the queue is empty
        if fleet.state[w] == IDLE:
            self.push(t + (self.wait if self.wait > 0 else 1.0), POLL, w, fleet.token[w])

    def set_asked(self, target, t):
        """Make ``target`` alive workers the ones asked to leave when idle."""
        fleet = self.fleet
        asked, state, launched = fleet.asked, fleet.state, fleet.launched
        if target == fleet.n_asked:
            return
        current = [w for w in fleet.alive if asked[w]]
        if target > len(current):  # ask idle ones first, then busy, then booting; oldest first
            order = sorted((w for w in fleet.alive if not asked[w]), key=lambda w: ((2, 0, 1)[state[w]], launched[w]))
            chosen = order[: target - len(current)]
            fleet.n_asked = len(current) + len(chosen)
            for w in chosen:
                asked[w] = True
                if state[w] == IDLE:
                    self.consider(w, t)
        else:  # take the request back from booting, then busy ones, newest first
            current.sort(key=lambda w: ((0, 2, 1)[state[w]], -launched[w]))
            for w in current[: len(current) - target]:
                asked[w] = False
            fleet.n_asked = target

    def outcome(self) -> Outcome:
        fleet = self.fleet
        ends = [self.now if math.isnan(e) else e for e in fleet.ended]  # still up: billed to the end
        return Outcome(
            policy=self.policy.name,
            submitted=self.submitted,
            finished=np.asarray(self.finished, dtype=float),
            worker_seconds=billed_seconds(np.asarray(fleet.launched, dtype=float), np.asarray(ends, dtype=float)),
            launches=len(fleet.launched),
            timeline={k: np.asarray(v) for k, v in self.timeline.items()},
            asks=self.asks.sent,
        )
