"""The simulated fleet's per-worker state (controller/simulate/engine.py drives it)."""

from __future__ import annotations

import math

PENDING, IDLE, BUSY, GONE = range(4)


class SimFleet:
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
        for column, value in (
            (self.launched, t),
            (self.state, PENDING),
            (self.job, -1),
            (self.started, t),
            (self.idle_since, t),
            (self.tasks, 0),
            (self.token, 0),
            (self.asked, False),
            (self.ended, math.nan),
        ):
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
