"""The scaling policy: a pure function from what the controller can observe to
how many workers to launch now. No AWS, no clock: the loop that applies it
(controller/scaling.py) and the simulator (controller/simulate/) both call it.

Two needs decide the fleet size, and the larger wins (never under
``min_workers``, never over ``max_workers``, and never more workers than
clips queued or in flight: ``work``):

* steady load: clips arrive at ``arrival_rate`` and take ``process_time_s``
  each, so ``load = rate * process`` workers are busy on average; run enough
  that they are busy at most ``utilization`` of the time, or ``load + 1.5
  sqrt(load)`` if fewer (square-root staffing: large fleets run busier);
* backlog: look one boot time ahead, when a worker launched now could start.
  What is queued, less what the workers up and booting will have done by
  then, should be done within what is left of the target latency after that
  boot (at least one processing time). So booting workers count, and a
  backlog the fleet drains before a new worker could start launches nothing.

What the policy is told about workers comes from the workers themselves
(edgecloud/workers.py), in production as in the simulator: booting until a
worker's first poll, then polling (busy ones included), then retiring.

Scale-in never kills a worker: ``surplus`` says how many workers should leave
once the queue has nothing for them (they finish what they hold and keep
taking jobs while any wait), and the worker's retirement rule
(edgecloud/retirement.py) keeps each through EC2's billed first minute.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

from edgecloud.config import AutoscalerSettings

# Square-root staffing: load + SPARE * sqrt(load) workers keep waits short; a
# big fleet smooths its own randomness, so it runs busier than a small one.
SPARE = 1.5
# Let workers go only above what launching aims at plus KEEP_SLACK * sqrt of
# it: the gap stops a noisy rate estimate launching and retiring in turn.
KEEP_SLACK = 0.5
# The load has ended when no clip came for this many mean gaps (a Poisson
# stream stays this quiet 0.7 % of the time) and for at least a boot time.
QUIET_GAPS = 5.0
# A rate is never measured over less than this: a burst in the first seconds
# after start is not a stream of that many clips per second.
MIN_RATE_WINDOW_S = 60.0


@dataclass(frozen=True)
class Observation:
    """What the controller sees at one tick (queue, fleet, recent timings)."""

    visible: int  # jobs waiting in the queue (approximate, as SQS reports)
    in_flight: int  # jobs a worker has received and not yet deleted
    booting: int  # workers launched, not yet polling (no report from the worker yet)
    polling: int  # workers up and taking jobs, busy ones included (asked-to-leave ones too: they still take jobs)
    retiring: int = 0  # workers shutting down; they take no new job
    busy: int = 0  # of the polling workers, those holding a job now
    process_time_s: float = 3.0  # recent seconds per clip on one worker
    boot_time_s: float = 60.0  # recent seconds from launch to first poll
    arrival_rate: float = 0.0  # clips per second submitted recently (rate_window_s)
    quiet_s: Optional[float] = None  # seconds since the last clip was submitted; None: unknown
    booting_s: tuple[float, ...] = ()  # seconds each pending worker has booted so far, if known

    @property
    def workers(self) -> int:
        return self.booting + self.polling


def arrival_rate(
    submitted: int, elapsed_s: float, settings: AutoscalerSettings, quiet_s: Optional[float] = None
) -> float:
    """Clips per second of the stream while it flowed: ``submitted`` in the last
    ``rate_window_s`` (or the ``elapsed_s`` of history, if shorter), over that
    span less the ``quiet_s`` since the latest clip, and never under a minute.
    Leaving the quiet out keeps the rate of a stream that has stopped from
    decaying, so ``_steady_load`` sees it end after a few of its gaps."""
    span = min(settings.rate_window_s, elapsed_s) - (quiet_s or 0.0)
    return submitted / max(span, MIN_RATE_WINDOW_S)


def _steady_load(obs: Observation) -> float:
    """Workers kept busy by arrivals; 0 once submissions have stopped (quiet for
    several mean gaps, and for a boot time: a fresh worker then costs no more
    wait than keeping one idle would have saved)."""
    rate = max(0.0, obs.arrival_rate)
    if rate == 0.0:
        return 0.0
    if obs.quiet_s is not None and obs.quiet_s >= max(obs.boot_time_s, QUIET_GAPS / rate, 1.0):
        return 0.0
    return rate * obs.process_time_s


def _backlog_need(obs: Observation, settings: AutoscalerSettings) -> int:
    """Workers needed so the queued clips finish near the target latency.

    Looks ahead one boot time, when a worker launched now would start: what is
    queued now, less what the workers up or booting will have done by then,
    is left for the whole fleet; a clip queued now has what is left of the
    target after that boot to be done in (at least one processing time).
    """
    p, boot = obs.process_time_s, obs.boot_time_s
    booted = list(obs.booting_s[: obs.booting])
    booted += [boot / 2] * (obs.booting - len(booted))  # unknown: assume half way
    done_by_then = (obs.polling * boot + sum(max(0.0, b) for b in booted)) / p
    left = obs.visible + obs.in_flight / 2 - done_by_then
    if left <= 0:
        return 0  # the fleet we have drains it before a new worker could start
    window = max(settings.target_latency_s - boot - p, p)
    return math.ceil(left * p / window - 1e-9)


def _steady_need(obs: Observation, settings: AutoscalerSettings) -> int:
    load = _steady_load(obs)
    return math.ceil(min(load / settings.utilization, load + SPARE * math.sqrt(load)) - 1e-9)


def work(obs: Observation) -> int:
    """Clips there is work for now: queued and in flight. A worker more would
    find nothing. Clips expected within a boot time are not launched for
    ahead: on the seed project's trace (9 clips, 180 s each) that bought 6 s
    of p95 for a quarter more instance-seconds; a clip that does arrive gets
    its worker at the next tick, and the steady load keeps workers (``surplus``)."""
    return obs.visible + obs.in_flight


def decide(obs: Observation, settings: AutoscalerSettings) -> int:
    """Workers to launch now (>= 0). Never exceeds max_workers counting booting
    and retiring ones; never launches while the fleet covers the load, nor more
    workers than there is work for (``work``)."""
    desired = max(_steady_need(obs, settings), _backlog_need(obs, settings))
    desired = max(settings.min_workers, min(desired, work(obs)))
    room = settings.max_workers - obs.workers - obs.retiring
    return max(0, min(desired - obs.workers, room))


def surplus(obs: Observation, settings: AutoscalerSettings) -> int:
    """Workers that should retire once the queue has nothing for them (>= 0).

    Keeps ``min_workers`` and what the steady load needs with some slack; the
    rest may go. They still take every queued job first, so asking costs no
    latency on a backlog, and a burst's fleet leaves the moment it is done.
    """
    need = _steady_need(obs, settings)
    keep = max(settings.min_workers, math.ceil(need + KEEP_SLACK * math.sqrt(need) - 1e-9))
    return max(0, obs.workers - keep)


def retire_asks(obs: Observation, settings: AutoscalerSettings) -> int:
    """Retire asks the controller should have outstanding now: ``surplus``, but
    only when nothing is launched and the queue empties before the next tick
    (fewer jobs queued than the workers up take in one ``interval``). A worker
    acts on an ask only when a poll finds no job, so asking as the last jobs
    are taken costs no latency, and the workers leave the moment the queue is
    empty instead of a scaling interval (plus a long poll) later."""
    drained_by_next_tick = obs.polling * (1 + settings.interval / obs.process_time_s)
    if decide(obs, settings) or obs.visible >= max(1.0, drained_by_next_tick):
        return 0
    return surplus(obs, settings)
