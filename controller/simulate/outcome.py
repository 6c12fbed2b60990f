"""What one simulated run measured: per-clip submit and finish times, billed worker-seconds, the per-tick timeline.

Apart from the engine because every model of the fleet fills it (the EC2 event loop in ``engine``, the Lambda
model in ``lambda_``) and the report and the plot read it without running anything.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


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
