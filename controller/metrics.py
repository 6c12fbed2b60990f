"""Prometheus metrics of one controller app, in its own registry (so tests can
make many apps), exposed at GET /metrics."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily


class _LedgerCollector:
    """Clip counts by status, and of those without their video, read from the ledger at scrape time."""

    def __init__(self, ledger_source):
        self._ledger_source = ledger_source

    def collect(self):
        family = GaugeMetricFamily("edgecloud_clips", "Clips in the ledger by status.", labels=["status"])
        ledger = self._ledger_source()
        for status, n in sorted(ledger.counts().items()):
            family.add_metric([status], n)
        yield family
        yield GaugeMetricFamily(
            "edgecloud_videos_dropped",
            "Clips whose record arrived without its video (the Pi's spool, over its cap, dropped it).",
            value=ledger.videos_dropped(),
        )


class Metrics:
    """Counters the API and the background loops update."""

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.uploads = Counter("edgecloud_uploads", "Clip uploads by outcome.", ["outcome"], registry=r)
        self.upload_bytes = Counter("edgecloud_upload_bytes", "Bytes of clips stored.", registry=r)
        self.requests = Histogram("edgecloud_request_seconds", "API request time.", ["endpoint"], registry=r)
        self.completions = Counter(
            "edgecloud_completions", "Worker completion messages by event.", ["event"], registry=r
        )
        self.dead_lettered = Counter("edgecloud_dead_lettered", "Jobs that ended in the dead-letter queue.", registry=r)
        self.workers_launched = Counter("edgecloud_workers_launched", "Workers the autoscaler launched.", registry=r)
        self.retire_asks = Counter(
            "edgecloud_retire_asks",
            "Asks the autoscaler put on the retire queue (scale-in: an idle worker takes one and leaves).",
            registry=r,
        )
        self.upload_to_result = Histogram(
            "edgecloud_upload_to_result_seconds",
            "Cloud clips, upload received to result stored.",
            registry=r,
            buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600, float("inf")),
        )

    def watch_ledger(self, ledger_source) -> None:
        self.registry.register(_LedgerCollector(ledger_source))
