"""The simulated retire-ask queue (``Action.ask``): a queue, as in SQS.

The controller tops it up to what the policy wants, each ask expires ``RETIRE_ASK_RETENTION_S`` after it was sent,
and a worker takes one at an empty poll only when its rule would then retire it (so not inside ``Asked``'s minimum
uptime). Apart from the engine because it is a queue with its own clock (expiry), shared by the controller's tick
and the workers' polls.
"""

from __future__ import annotations

from collections import deque

from edgecloud.provision import RETIRE_ASK_RETENTION_S


class RetireAsks:
    """The asks waiting, as their expiry times (oldest first), and how many were ever sent."""

    def __init__(self):
        self.expiries: deque = deque()
        self.sent = 0

    def waiting(self, t: float) -> int:
        """How many asks wait at ``t`` (the expired ones dropped)."""
        expiries = self.expiries
        while expiries and expiries[0] <= t:
            expiries.popleft()
        return len(expiries)

    def top_up(self, wanted: int, t: float) -> None:
        """The controller sends asks until ``wanted`` wait."""
        for _ in range(max(0, wanted - self.waiting(t))):
            self.expiries.append(t + RETIRE_ASK_RETENTION_S)
            self.sent += 1

    def take(self) -> None:
        """A worker takes the oldest ask (call after ``waiting`` said one waits)."""
        self.expiries.popleft()
