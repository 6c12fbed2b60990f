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
finished a job: the real worker's next poll is then short).

Retire asks (``Action.ask``) are a queue, as in SQS: the controller tops it
up to what the policy wants, each ask expires ``RETIRE_ASK_RETENTION_S``
after it was sent, and a worker takes one at an empty poll only when its rule
would then retire it (so not inside ``Asked``'s minimum uptime).
"""
from __future__ import annotations

import heapq
import math
from collections import deque
from bisect import bisect_left, bisect_right
from dataclasses import dataclass

import numpy as np

from edgecloud.controller.autoscaler import Observation, arrival_rate
from edgecloud.provision import RETIRE_ASK_RETENTION_S
from edgecloud.config import AutoscalerSettings
from edgecloud.retirement import EC2_MINIMUM_BILLED_S

from .billing import billed_seconds
from .policies import SimPolicy

DONE, READY, POLL, CHECK, TICK = range(5)  # same-time order: work first, then decisions
PENDING, IDLE, BUSY, GONE = range(4)
EWMA = 0.05  # weight of each new measurement in the observed process / boot times


@dataclass
class Outcome:
    """What one policy did on one trace."""

    policy: str
    submitted: np.ndarray  # per clip
    finished: np.ndarray  # per clip; nan if it never finished
    worker_seconds: np.ndarray  # per launched worker, billed
    launches: int
    timeline: dict  # per tick: t, visible, in_flight, workers
    asks: int = 0  # retire asks sent
    cost_usd: float | None = None  # priced by the engine itself (lambda); None: billed instance-seconds

    @property
    def latencies(self) -> np.ndarray:
        return self.finished - self.submitted


class _Fleet:
    """Per-worker state in flat lists (cheaper than objects at a million clips)."""

    def __init__(self):
        self.launched, self.state, self.job, self.started = [], [], [], []
        self.idle_since, self.tasks, self.token, self.asked, self.ended = [], [], [], [], []
        self.alive: set[int] = set()
        self.booting: set[int] = set()
        self.n_asked = 0  # alive workers asked to leave
        self.idle: list[int] = []
        self.idle_pos: dict[int, int] = {}
        self.pending = self.busy = 0

    def add(self, t: float) -> int:
        w = len(self.launched)
        for column, value in ((self.launched, t), (self.state, PENDING), (self.job, -1), (self.started, t),
                              (self.idle_since, t), (self.tasks, 0), (self.token, 0), (self.asked, False),
                              (self.ended, math.nan)):
            column.append(value)
        self.alive.add(w)
        self.booting.add(w)
        self.pending += 1
        return w

    def push_idle(self, w: int) -> None:
        self.idle_pos[w] = len(self.idle)
        self.idle.append(w)

    def pop_idle(self, w: int) -> None:
        i = self.idle_pos.pop(w)
        last = self.idle.pop()
        if last != w:
            self.idle[i] = last
            self.idle_pos[last] = i


def simulate(policy: SimPolicy, submitted: np.ndarray, process_s: np.ndarray, boot_s: np.ndarray,
             settings: AutoscalerSettings, *, seed: int = 0, tail_s: float = 600.0,
             give_up_s: float = 7 * 86400.0) -> Outcome:
    """Run ``policy`` on clips submitted at ``submitted`` (sorted) taking
    ``process_s`` each; the k-th launch boots in ``boot_s[k % len]``. Ends at
    the first tick with every clip done, every worker gone and none launched
    (so a policy that relaunches after the last clip is billed for it), or
    ``tail_s`` after the last clip finished (workers still up are billed to then)."""
    arr = submitted.tolist()
    proc = process_s.tolist()
    boots = boot_s.tolist()
    n = len(arr)
    finished = [math.nan] * n
    rng = np.random.default_rng(seed)
    picks = rng.random(4096).tolist()
    pick_i = 0
    fleet = _Fleet()
    heap: list = []
    seq = 0
    arrived = taken = done = 0
    p_seen, boot_seen = settings.process_time_s, settings.boot_time_s
    rule, wait = policy.retirement, policy.poll_wait_s
    interval, window = settings.interval, settings.rate_window_s
    timeline = {"t": [], "visible": [], "in_flight": [], "workers": []}
    asks: deque = deque()  # expiry time of each retire ask waiting, oldest first
    asks_sent = 0
    end, now = (math.inf if n else tail_s), 0.0
    state, launched, started, job = fleet.state, fleet.launched, fleet.started, fleet.job

    def push(t, kind, w=-1, tok=0):
        nonlocal seq
        seq += 1
        heapq.heappush(heap, (t, kind, seq, w, tok))

    def start(w, t):
        nonlocal taken
        state[w] = BUSY
        fleet.busy += 1
        job[w] = taken
        started[w] = t
        push(t + proc[taken], DONE, w)
        taken += 1

    def retire(w, t):
        if state[w] == IDLE:
            fleet.pop_idle(w)
        state[w] = GONE
        fleet.ended[w] = t
        fleet.alive.discard(w)
        fleet.n_asked -= fleet.asked[w]

    def expire_asks(t):
        while asks and asks[0] <= t:
            asks.popleft()

    def consider(w, t):
        """Worker w is idle at t: retire by its rule (or on a retire ask it
        would act on), or wait for the next check."""
        idle_s = t - fleet.idle_since[w]
        if rule.should_retire(idle_s, False, tasks_done=fleet.tasks[w], uptime_s=t - launched[w],
                              asked=fleet.asked[w]):
            retire(w, t)
            return
        if asks:
            expire_asks(t)
            if asks and rule.should_retire(idle_s, False, tasks_done=fleet.tasks[w], uptime_s=t - launched[w],
                                           asked=True):
                asks.popleft()
                retire(w, t)
                return
        if fleet.asked[w] and t - launched[w] < EC2_MINIMUM_BILLED_S:
            push(launched[w] + EC2_MINIMUM_BILLED_S, CHECK, w, fleet.token[w])

    def go_idle(w, t, short=False):
        state[w] = IDLE
        fleet.idle_since[w] = t
        fleet.token[w] += 1
        fleet.push_idle(w)
        if wait <= 0 or short or fleet.asked[w]:
            consider(w, t)  # a short poll: it knows at once the queue is empty
        if state[w] == IDLE:
            push(t + (wait if wait > 0 else 1.0), POLL, w, fleet.token[w])

    def set_asked(target, t):
        """Make ``target`` alive workers the ones asked to leave when idle."""
        asked = fleet.asked
        if target == fleet.n_asked:
            return
        current = [w for w in fleet.alive if asked[w]]
        if target > len(current):  # ask idle ones first, then busy, then booting; oldest first
            order = sorted((w for w in fleet.alive if not asked[w]),
                           key=lambda w: ((2, 0, 1)[state[w]], launched[w]))
            chosen = order[: target - len(current)]
            fleet.n_asked = len(current) + len(chosen)
            for w in chosen:
                asked[w] = True
                if state[w] == IDLE:
                    consider(w, t)
        else:  # take the request back from booting, then busy ones, newest first
            current.sort(key=lambda w: ((0, 2, 1)[state[w]], -launched[w]))
            for w in current[: len(current) - target]:
                asked[w] = False
            fleet.n_asked = target

    push(0.0, TICK)
    while heap:
        head = heap[0][0]
        if fleet.idle and arrived < n and arr[arrived] <= head:
            ta = arr[arrived]  # an idle worker is long-polling: it gets the clip now
            arrived += 1
            if pick_i == len(picks):
                picks, pick_i = rng.random(4096).tolist(), 0
            w = fleet.idle[int(picks[pick_i] * len(fleet.idle))]
            pick_i += 1
            fleet.pop_idle(w)
            start(w, ta)
            continue
        t, kind, _, w, tok = heapq.heappop(heap)
        if t > end:
            now = end
            break
        now = t
        if arrived < n and arr[arrived] <= t:
            arrived = bisect_right(arr, t, arrived)
        if kind == DONE:
            i = job[w]
            finished[i] = t
            done += 1
            p_seen += EWMA * (t - started[w] - p_seen)
            fleet.tasks[w] += 1
            fleet.busy -= 1
            if taken < arrived:
                start(w, t)
            else:
                go_idle(w, t, short=True)
                if done == n:
                    end = t + tail_s
        elif kind == READY:
            fleet.pending -= 1
            fleet.booting.discard(w)
            boot_seen += EWMA * (t - launched[w] - boot_seen)
            if taken < arrived:
                start(w, t)
            else:
                go_idle(w, t)
        elif kind == POLL or kind == CHECK:
            if state[w] == IDLE and fleet.token[w] == tok:
                consider(w, t)
                if kind == POLL and state[w] == IDLE:
                    push(t + (wait if wait > 0 else 1.0), POLL, w, tok)
        else:  # TICK
            recent = arrived - bisect_left(arr, t - window, 0, arrived) if arrived else 0
            quiet_s = (t - arr[arrived - 1]) if arrived else None
            obs = Observation(
                visible=arrived - taken, in_flight=fleet.busy, booting=fleet.pending,
                polling=len(fleet.alive) - fleet.pending, busy=fleet.busy,  # retiring: instant here
                process_time_s=max(p_seen, 1e-3),
                boot_time_s=boot_seen, arrival_rate=arrival_rate(recent, t, settings, quiet_s),
                quiet_s=quiet_s,
                booting_s=tuple(t - launched[v] for v in fleet.booting),
            )
            action = policy.tick(obs, t)
            room = settings.max_workers - len(fleet.alive)
            for _ in range(max(0, min(action.launch, room))):
                v = fleet.add(t)
                push(t + boots[v % len(boots)], READY, v)
            if action.drain is not None:
                set_asked(action.drain, t)
            if action.ask is not None:
                expire_asks(t)
                for _ in range(max(0, action.ask - len(asks))):
                    asks.append(t + RETIRE_ASK_RETENTION_S)
                    asks_sent += 1
            for key, value in (("t", t), ("visible", obs.visible), ("in_flight", obs.in_flight),
                               ("workers", len(fleet.alive))):
                timeline[key].append(value)
            if done == n and not fleet.alive:
                break
            if t > (arr[-1] if n else 0.0) + give_up_s:
                break  # a policy that never finishes (e.g. no workers allowed)
            push(t + interval, TICK)
    ends = [now if math.isnan(e) else e for e in fleet.ended]  # still up: billed to the end
    return Outcome(
        policy=policy.name, submitted=submitted, finished=np.asarray(finished, dtype=float),
        worker_seconds=billed_seconds(np.asarray(launched, dtype=float), np.asarray(ends, dtype=float)),
        launches=len(launched), timeline={k: np.asarray(v) for k, v in timeline.items()}, asks=asks_sent,
    )
