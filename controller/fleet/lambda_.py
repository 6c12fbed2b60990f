"""``fleet.backend: lambda``: the jobs queue is the event source of a function, so
the controller launches nothing; it only reports the function's concurrency.

Concurrency is what Lambda publishes as the ``AWS/Lambda`` metric
``ConcurrentExecutions`` for the function (the highest of the last minute;
the local emulation publishes the same metric to the embedded CloudWatch).
Its cap is the event source mapping's maximum concurrency, else the function's
reserved concurrency, else ``autoscaler.max_workers``, from which the stack
sets both.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws
from edgecloud.clock import utcnow
from edgecloud.config import Settings

from .base import Fleet

log = logging.getLogger(__name__)

METRIC_NAMESPACE = "AWS/Lambda"
METRIC_NAME = "ConcurrentExecutions"


class LambdaFleet(Fleet):
    """A Lambda function fed by the jobs queue: ``launch`` is never needed, ``states`` counts executions."""

    backend = "lambda"

    def __init__(self, settings: Settings, aws: Aws):
        super().__init__(settings, aws)
        self.function_name = settings.function.name

    def concurrent_executions(self) -> int:
        """The most executions at once in the last minute (0 when Lambda reported none)."""
        now = utcnow()
        points = self.aws.client("cloudwatch").get_metric_statistics(
            Namespace=METRIC_NAMESPACE,
            MetricName=METRIC_NAME,
            Dimensions=[{"Name": "FunctionName", "Value": self.function_name}],
            StartTime=now - timedelta(seconds=60),
            EndTime=now + timedelta(seconds=1),
            Period=60,
            Statistics=["Maximum"],
        )["Datapoints"]
        return int(max((p["Maximum"] for p in points), default=0))

    def maximum_concurrency(self) -> int:
        """The event source mapping's cap, else the reserved concurrency, else ``max_workers``."""
        found = self._mapping_cap() or self._reserved()
        return found or self.settings.autoscaler.max_workers

    def _mapping_cap(self) -> Optional[int]:
        try:
            mappings = self.aws.client("lambda").list_event_source_mappings(FunctionName=self.function_name)[
                "EventSourceMappings"
            ]
        except ClientError:
            return None
        caps = [(m.get("ScalingConfig") or {}).get("MaximumConcurrency") for m in mappings]
        caps = [c for c in caps if c]
        return min(caps) if caps else None

    def _reserved(self) -> Optional[int]:
        try:
            return (
                self.aws.client("lambda")
                .get_function_concurrency(FunctionName=self.function_name)
                .get("ReservedConcurrentExecutions")
            )
        except ClientError:
            return None

    def describe(self) -> dict:
        """What ``/v1/stats`` shows as ``function``."""
        return {
            "name": self.function_name,
            "concurrent_executions": self.concurrent_executions(),
            "maximum_concurrency": self.maximum_concurrency(),
        }

    def states(self) -> dict[str, int]:
        return {"pending": 0, "running": self.concurrent_executions()}

    def launch(self, n: int) -> list[str]:
        # Lambda scales the function with the queue itself; nothing to start.
        return []

    def ids(self) -> list[str]:
        return []
