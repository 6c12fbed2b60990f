"""What the leading controller tells CloudWatch (namespace ``edgecloud``) after each
observation: the figures the stack's alarms, dashboard and (``fleet.scaling:
target-tracking``) the Auto Scaling group's target-tracking policy read.

Every metric carries one dimension, ``Fleet`` (``fleet.name``), so two stacks in
one account never mix; ``Workers`` carries a ``State`` too (booting,
polling, busy, retiring), and their total as ``FleetSize``. Only the leader
publishes, so each figure is counted once however many controllers serve.
Shared-store figures come through the Ledger's interface only (oldest_submitted,
cloud_submissions, recent_cloud), so a DynamoDB ledger slots in.
"""

from __future__ import annotations

import logging
import math
from datetime import datetime
from typing import Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, error_code

from .autoscaler import Observation
from .status import as_utc

log = logging.getLogger(__name__)

NAMESPACE = "edgecloud"
BACKLOG_PER_WORKER = "BacklogPerWorker"  # what target tracking and the dashboard read (AWS's SQS recipe)
WAITING = ("queued", "processing")  # ledger statuses of a clip whose job is not finished
P95_SAMPLE = 100  # recent cloud clips the p95 latency is taken over


def backlog_per_worker(obs: Observation) -> float:
    """Jobs waiting per worker up or booting; with no worker, the whole backlog (so it still reads high)."""
    return obs.visible / max(1, obs.workers)


def p95(values: list[float]) -> Optional[float]:
    """The nearest-rank 95th percentile, None without values."""
    if not values:
        return None
    ranked = sorted(values)
    return ranked[max(0, math.ceil(0.95 * len(ranked)) - 1)]


def oldest_waiting_s(ledger, now: datetime) -> float:
    """Age of the oldest clip whose job is queued or in hand (0 if none): one indexed read per status."""
    oldest = ledger.oldest_submitted(WAITING)
    return max(0.0, (now - as_utc(oldest)).total_seconds()) if oldest else 0.0


class CloudWatchPublisher:
    """Turns one observation (plus the ledger's figures) into PutMetricData calls."""

    def __init__(self, aws: Aws, fleet_name: str):
        self.aws = aws
        self.dimensions = [{"Name": "Fleet", "Value": fleet_name}]
        self.last_published: Optional[datetime] = None
        self._warned = False

    def figures(self, obs: Observation, ledger, now: datetime) -> list[dict]:
        """The metric data for one tick."""
        workers = {
            "booting": obs.booting,
            "polling": obs.polling - obs.busy,
            "busy": obs.busy,
            "retiring": obs.retiring,
        }
        submitted, _ = ledger.cloud_submissions(self.last_published or now)  # since the last tick
        latencies = [r.upload_to_result_s for r in ledger.recent_cloud(P95_SAMPLE) if r.upload_to_result_s is not None]
        data = [
            self._datum(BACKLOG_PER_WORKER, backlog_per_worker(obs), "Count", now),
            self._datum("Backlog", obs.visible + obs.in_flight, "Count", now),
            self._datum("OldestJobAge", oldest_waiting_s(ledger, now), "Seconds", now),
            self._datum("ClipsSubmitted", submitted, "Count", now),
            self._datum("FleetSize", sum(workers.values()), "Count", now),
        ]
        latency = p95(latencies)
        if latency is not None:
            data.append(self._datum("LatencyP95", latency, "Seconds", now))
        data += [self._datum("Workers", n, "Count", now, State=state) for state, n in workers.items()]
        return data

    def _datum(self, name: str, value: float, unit: str, when: datetime, **extra: str) -> dict:
        dims = self.dimensions + [{"Name": k, "Value": v} for k, v in extra.items()]
        return {"MetricName": name, "Dimensions": dims, "Value": float(value), "Unit": unit, "Timestamp": when}

    def publish(self, obs: Observation, ledger, now: datetime) -> int:
        """Send this tick's figures; returns how many. A failure is logged once, never raised:
        scaling must go on without CloudWatch."""
        data = self.figures(obs, ledger, now)
        try:
            for start in range(0, len(data), 1000):  # PutMetricData's cap per call
                self.aws.cloudwatch.put_metric_data(Namespace=NAMESPACE, MetricData=data[start : start + 1000])
        except ClientError as err:
            if not self._warned:
                log.warning("cannot publish metrics to CloudWatch (%s); scaling goes on", error_code(err))
                self._warned = True
            return 0
        self.last_published = now
        return len(data)
