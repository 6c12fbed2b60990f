"""``edgecloud simulate``: the real autoscaling policy and retirement rule, and
the seeds', driven by an arrival trace on a simulated clock."""

from .engine import simulate
from .outcome import Outcome
from .policies import BUILT_INS, build

__all__ = ["BUILT_INS", "Outcome", "build", "simulate"]
