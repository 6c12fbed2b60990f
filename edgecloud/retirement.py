"""When a worker retires: small composable rules, pure and clock-free.

The worker loop (and the simulator) asks ``policy.should_retire(idle_s,
holding, tasks_done=..., uptime_s=...)`` after each poll. Rules combine with
``&`` and ``|``::

    IdleTimeout(60) | MaxTasks(1000)       # idle a minute, or done plenty
    IdleTimeout(20) & MinUptime(60)        # idle, and past EC2's billed minute
    IdleTimeout(60) | Asked()              # or the controller asked (a retire ask)

Whatever the rules say, a worker that holds a job never retires: scale-in
must not lose work, so that guard lives here, once, not in each rule.
"""

from __future__ import annotations

from dataclasses import dataclass

from edgecloud.config import WorkerSettings

# EC2 bills per second with a 60-second minimum: leaving earlier saves nothing.
EC2_MINIMUM_BILLED_S = 60.0


@dataclass(frozen=True)
class Moment:
    """What a rule sees about an idle worker."""

    idle_s: float
    tasks_done: int
    uptime_s: float
    asked: bool


class RetirementPolicy:
    """Base of the rules. A rule overrides ``_wants_to_retire``; callers use
    ``should_retire``, which adds the never-while-holding guard."""

    def should_retire(
        self, idle_s: float, holding: bool, *, tasks_done: int = 0, uptime_s: float | None = None, asked: bool = False
    ) -> bool:
        """True when the worker should stop now. ``idle_s``: seconds since it
        last held a job (or since it started); ``holding``: it holds a job now;
        ``tasks_done``: jobs finished so far; ``uptime_s``: seconds since launch
        (None: unknown, treated as ``idle_s``); ``asked``: the controller asked
        this worker to leave once the queue has nothing for it."""
        if holding:
            return False
        uptime = idle_s if uptime_s is None else uptime_s
        return self._wants_to_retire(Moment(idle_s, tasks_done, uptime, asked))

    def _wants_to_retire(self, now: Moment) -> bool:
        raise NotImplementedError

    def __and__(self, other: RetirementPolicy) -> RetirementPolicy:
        return AllOf((self, other))

    def __or__(self, other: RetirementPolicy) -> RetirementPolicy:
        return AnyOf((self, other))


@dataclass(frozen=True)
class IdleTimeout(RetirementPolicy):
    """Retire after ``seconds`` with nothing in hand (0: on the first empty poll)."""

    seconds: float

    def __post_init__(self):
        if self.seconds < 0:
            raise ValueError(f"idle timeout must be >= 0, got {self.seconds}")

    def _wants_to_retire(self, now):
        return now.idle_s >= self.seconds


@dataclass(frozen=True)
class MaxTasks(RetirementPolicy):
    """Retire once ``n`` jobs are done (fresh instances, bounded leaks)."""

    n: int

    def __post_init__(self):
        if self.n < 1:
            raise ValueError(f"max tasks must be >= 1, got {self.n}")

    def _wants_to_retire(self, now):
        return now.tasks_done >= self.n


@dataclass(frozen=True)
class MinUptime(RetirementPolicy):
    """True once the instance has run ``seconds``; combine with ``&`` so a worker
    does not retire inside a period that is billed anyway (EC2: 60 s minimum)."""

    seconds: float

    def _wants_to_retire(self, now):
        return now.uptime_s >= self.seconds


@dataclass(frozen=True)
class Asked(RetirementPolicy):
    """Retire when the controller asked (a retire ask), once ``min_uptime_s`` has
    run: by default not inside EC2's billed first minute, where staying is free."""

    min_uptime_s: float = EC2_MINIMUM_BILLED_S

    def _wants_to_retire(self, now):
        return now.asked and now.uptime_s >= self.min_uptime_s


@dataclass(frozen=True)
class Never(RetirementPolicy):
    """Keep running until stopped from outside (e.g. ``retire: false``)."""

    def _wants_to_retire(self, now):
        return False


@dataclass(frozen=True)
class AllOf(RetirementPolicy):
    """Retire when every rule agrees."""

    rules: tuple[RetirementPolicy, ...]

    def _wants_to_retire(self, now):
        return all(r._wants_to_retire(now) for r in self.rules)


@dataclass(frozen=True)
class AnyOf(RetirementPolicy):
    """Retire when any rule says so."""

    rules: tuple[RetirementPolicy, ...]

    def _wants_to_retire(self, now):
        return any(r._wants_to_retire(now) for r in self.rules)


def from_settings(settings: WorkerSettings) -> RetirementPolicy:
    """The rule a worker runs with: idle for ``idle_timeout`` seconds, or asked
    by the controller to leave (after the billed first minute)."""
    return IdleTimeout(settings.idle_timeout) | Asked()


def should_retire(
    idle_s: float,
    holding: bool,
    settings: WorkerSettings | None = None,
    *,
    tasks_done: int = 0,
    uptime_s: float | None = None,
    asked: bool = False,
) -> bool:
    """One-call form: the configured rule (defaults when ``settings`` is None)."""
    policy = from_settings(settings or WorkerSettings())
    return policy.should_retire(idle_s, holding, tasks_done=tasks_done, uptime_s=uptime_s, asked=asked)
