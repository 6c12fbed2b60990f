"""Waking a ``?wait=`` on the DynamoDB ledger when another controller finished the clip.

This process's own writes notify its waiters at once (``ledger_waits``); a completion another
controller consumed is seen only by reading the table. So one poller thread per process, while
anyone waits, reads the waited clips' status with BatchGetItem (100 ids a call) every ``poll_s``
and wakes the waiters when one is final. Idle, it makes no calls. Apart from the ledger's item
writes because it is the one part with a thread of its own and a cost that grows with the waits,
not the clips.
"""

from __future__ import annotations

import logging
import threading

from edgecloud.loops import BackgroundLoop
from edgecloud.protocol.states import FINAL

log = logging.getLogger(__name__)
BATCH_GET_MAX = 100  # keys per BatchGetItem, DynamoDB's limit


class PolledWaits:
    """Mixed into ``DynamoLedger`` ahead of ``FinalWaits``: needs ``aws``, ``table`` and ``_notify``."""

    poll_s = 0.5
    recheck_s = 5.0  # each waiter's own re-read: a safety net, the poller is the fast path

    def _init_polling(self) -> None:
        self._poller = FinalPoller(self)
        self._poller_lock = threading.Lock()

    def _waits_began(self) -> None:
        with self._poller_lock:
            if not self._poller.running and not self._poller.stopping:
                self._poller.start()

    def _stop_polling(self) -> None:
        with self._poller_lock:
            self._poller.stop()

    def final_among(self, clip_ids: list[str]) -> list[str]:
        """Those of these clips that are done, failed or gone (one BatchGetItem per 100 ids); a key
        left unprocessed (throttling) is asked again at the poller's next turn."""
        found: list[str] = []
        for n in range(0, len(clip_ids), BATCH_GET_MAX):
            chunk = clip_ids[n : n + BATCH_GET_MAX]
            reply = self.aws.dynamodb.batch_get_item(
                RequestItems={
                    self.table: {
                        "Keys": [{"clip_id": {"S": c}} for c in chunk],
                        "ConsistentRead": True,
                        "ProjectionExpression": "clip_id, #s",
                        "ExpressionAttributeNames": {"#s": "status"},
                    }
                }
            )
            items = reply.get("Responses", {}).get(self.table, [])
            found += [item["clip_id"]["S"] for item in items if item["status"]["S"] in FINAL]
            unprocessed = reply.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
            answered = {item["clip_id"]["S"] for item in items} | {key["clip_id"]["S"] for key in unprocessed}
            found += [c for c in chunk if c not in answered]  # forgotten: its waiter answers 'not found'
        return found


class FinalPoller(BackgroundLoop):
    """Wakes a ledger's waiters when a clip they wait on was finished by another controller."""

    thread_name = "ledger-poll"

    def __init__(self, ledger: PolledWaits):
        super().__init__()
        self.ledger = ledger
        self._warned = False

    def run(self, stop: threading.Event) -> None:
        while not stop.wait(self.ledger.poll_s):
            waited = self.ledger.waited_ids()
            if not waited:
                continue
            try:
                final = self.ledger.final_among(waited)
                if final:
                    self.ledger._notify(final)
            except Exception as err:  # noqa: BLE001 - a dead poller would leave cross-controller waits at recheck_s
                if not self._warned:  # waiters still re-read every recheck_s
                    log.warning("cannot poll %s for finished clips: %s", self.ledger.table, err)
                    self._warned = True
