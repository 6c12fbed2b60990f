"""CPU time each process of a benchmark spends, so a run says where the work went, not only how long it took.

Wall-clock figures on a shared machine move with the neighbours' load; CPU
seconds per request of each process (the controller, the AWS endpoint, the
client) barely do. A process is counted with its children (gunicorn's master
and worker), read through psutil.
"""

from __future__ import annotations

import threading
import time
from typing import Mapping

import psutil


def cpu_s(pid: int, *, children: bool = False) -> float:
    """User + system CPU seconds of a process, and of its live children if asked."""
    try:
        root = psutil.Process(pid)
        procs = [root] + (root.children(recursive=True) if children else [])
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        try:
            t = proc.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += t.user + t.system
    return total


class ThreadCpu:
    """CPU seconds the client's own threads spent (summed as each one ends), apart from
    whatever else shares their process (an in-process AWS endpoint)."""

    def __init__(self):
        self.seconds = 0.0
        self._lock = threading.Lock()

    def add_current_thread(self) -> None:
        spent = time.thread_time()
        with self._lock:
            self.seconds += spent


class CpuMeter:
    """CPU seconds of named processes between ``start`` and ``stop``; those named in ``with_children``
    count their children too (gunicorn's master and worker), the others only themselves."""

    def __init__(self, pids: Mapping[str, int], with_children: frozenset[str] = frozenset()):
        self.pids = dict(pids)
        self.with_children = with_children
        self._before: dict[str, float] = {}
        self.spent: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {name: cpu_s(pid, children=name in self.with_children) for name, pid in self.pids.items()}

    def start(self) -> "CpuMeter":
        self._before = self._now()
        return self

    def stop(self) -> dict[str, float]:
        self.spent = {name: seconds - self._before[name] for name, seconds in self._now().items()}
        return self.spent


def ms_per(spent: Mapping[str, float], n: int) -> dict[str, float]:
    """CPU milliseconds per unit of work (per upload), by process."""
    return {name: round(1000 * seconds / max(1, n), 1) for name, seconds in spent.items()}
