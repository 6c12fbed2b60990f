"""The worker's side of the controller's retire asks: take one and leave the fleet.

The controller puts one ask per surplus worker on the retire queue; an idle
worker that its retirement rule would let go on request takes one, leaves the
fleet (terminating its own instance), and only then deletes the ask, so the
controller never counts a worker both as still here and as asked to go.
"""

from __future__ import annotations

import logging
from typing import Optional

from botocore.exceptions import ClientError

from edgecloud.workers import RETIRING

log = logging.getLogger(__name__)


class RetireAsks:
    """Mixed into ``Worker``: uses its ``aws``, ``queues``, ``policy``, ``retirer``,
    ``holding``, ``stopping``, ``tasks_done``, ``report`` and counts ``asks_taken``."""

    def _receive_retire_ask(self) -> Optional[dict]:
        """One ask from the retire queue, without waiting; None when there is none (or no such queue)."""
        try:
            messages = self.aws.sqs.receive_message(
                QueueUrl=self.queues.retire, MaxNumberOfMessages=1, WaitTimeSeconds=0
            ).get("Messages", [])
        except ClientError as err:
            if not self._asks_warned:  # e.g. a stack from before the retire queue: the idle timeout still works
                log.warning(
                    "cannot read retire asks (%s); retiring by idle timeout only",
                    err.response.get("Error", {}).get("Code"),
                )
                self._asks_warned = True
            return None
        return messages[0] if messages else None

    def _retire_if_asked(self, idle_s: float, uptime_s: float) -> bool:
        """Idle, holding nothing: if the rule would retire this worker when asked,
        take one ask and retire; False when it stays (no ask, or one it would not act
        on, which it leaves for a worker that will: e.g. inside its billed first minute)."""
        if self.holding or self.stopping:
            return False
        if not self.policy.should_retire(
            idle_s, self.holding, tasks_done=self.tasks_done, uptime_s=uptime_s, asked=True
        ):
            return False
        ask = self._receive_retire_ask()
        if ask is None:
            return False
        log.info("asked to leave (%.200s); idle %.0f s after %d jobs: retiring", ask["Body"], idle_s, self.tasks_done)
        # If retiring fails the ask reappears when its short visibility ends, for another worker.
        if not self._retire():
            return False
        # Deleted only once this worker is leaving the fleet: until then the controller
        # counts the ask as outstanding, so it never asks a second worker in its place.
        self.aws.sqs.delete_message(QueueUrl=self.queues.retire, ReceiptHandle=ask["ReceiptHandle"])
        self.asks_taken += 1
        return True

    def _retire(self) -> bool:
        """Leave the fleet; False (and keep serving) when refused, e.g. an Auto Scaling
        group at its minimum size: a worker that crashed instead would idle on as an
        instance the autoscaler counts but nothing runs on."""
        self.report(RETIRING)  # a refusal below: the next poll reports it polling again
        try:
            self.retirer.retire()
        except ClientError as err:
            log.warning("could not retire (%s); serving on", err.response.get("Error", {}).get("Message", err))
            return False
        return True
