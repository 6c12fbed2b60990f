"""Shared resources of the API, reached through small accessors (like flaskr's
``get_db()``): views ask ``get_store()`` or ``get_ledger()`` and never build a
boto3 client or a database connection themselves.

Each is made on first use; ``attach`` lets the service hand in the ones its
background loops already use (one ledger, one fleet per process).
"""

from __future__ import annotations

import threading
from typing import Any, Optional

from flask import Flask, current_app

from edgecloud.aws import Aws, Queues
from edgecloud.config import Settings
from edgecloud.credentials import Registry

from .clip_ledger import ClipLedger, open_ledger
from .frame_store import FrameStore
from .metrics import Metrics
from .notify import Notifier
from .store import ClipStore
from .waits import HeldWaits

EXTENSION = "edgecloud"


class Resources:
    """What one app shares between its requests; each attribute is made lazily, once."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._lock = threading.RLock()
        self._made: dict[str, Any] = {}

    def _get(self, name: str, make):
        with self._lock:
            if name not in self._made:
                self._made[name] = make()
            return self._made[name]

    def attach(self, **resources: Any) -> None:
        with self._lock:
            self._made.update({k: v for k, v in resources.items() if v is not None})

    @property
    def aws(self) -> Aws:
        return self._get("aws", lambda: Aws(self.settings.aws))

    @property
    def queues(self) -> Queues:
        return self._get("queues", lambda: Queues(self.aws, self.settings))

    @property
    def ledger(self) -> ClipLedger:
        return self._get("ledger", lambda: open_ledger(self.settings, self.aws))

    @property
    def store(self) -> ClipStore:
        return self._get("store", lambda: ClipStore(self.aws, self.queues, self.settings))

    @property
    def frames(self) -> FrameStore:
        return self._get("frames", lambda: FrameStore(self.aws, self.settings))

    @property
    def metrics(self) -> Metrics:
        def make():
            metrics = Metrics()
            metrics.watch_ledger(lambda: self.ledger)
            return metrics

        return self._get("metrics", make)

    @property
    def waits(self) -> HeldWaits:
        def make():
            c = self.settings.controller
            return HeldWaits(c.threads // 2 if c.max_held_waits is None else c.max_held_waits, c.max_waits_per_device)

        return self._get("waits", make)

    @property
    def quotas(self):
        from .quotas import Quotas

        return self._get("quotas", lambda: Quotas.from_settings(self.aws, self.settings))

    @property
    def fleet(self):
        from .fleet import create_fleet

        return self._get("fleet", lambda: create_fleet(self.settings, self.aws))

    @property
    def lease(self):
        """This controller's claim on the autoscaler lease (who leads: controller/lease.py)."""
        from .lease import Lease

        return self._get(
            "lease", lambda: Lease(self.aws, self.settings.tables.leases, interval=self.settings.autoscaler.interval)
        )

    @property
    def registry(self) -> Registry:
        return self._get(
            "registry",
            lambda: Registry(
                self.aws, self.settings.tables.credentials, cache_s=self.settings.controller.token_cache_s
            ),
        )

    @property
    def notifier(self) -> Notifier:
        def make():
            ttl = self.settings.notify.link_ttl_s
            return Notifier(
                self.settings,
                self.aws,
                snapshot_link=lambda key: self.store.snapshot_url(key, ttl),
                events=lambda: self.ledger.events,
            ).start()

        return self._get("notifier", make)

    @property
    def not_ready(self):
        """Workers whose detector does not load (edgecloud.workers), read at most every 10 s."""
        from edgecloud.workers import NotReadyView, WorkerStates

        return self._get("not_ready", lambda: NotReadyView(WorkerStates(self.aws, self.settings.tables.workers)))

    @property
    def public_url(self) -> str:
        """The base of every link the controller hands out: controller.url, else the URL ``serve``
        listens on (attached as ``public_url``), else the configured host and port. Never the
        request's Host header, which any client may forge."""
        c = self.settings.controller
        with self._lock:
            listening = self._made.get("public_url")
        host = f"[{c.host}]" if ":" in c.host else c.host
        return (c.url or listening or f"{'https' if c.tls_cert else 'http'}://{host}:{c.port}").rstrip("/")

    def close(self) -> None:
        with self._lock:
            ledger: Optional[ClipLedger] = self._made.pop("ledger", None)
            notifier: Optional[Notifier] = self._made.pop("notifier", None)
        if notifier is not None:
            notifier.stop()
        if ledger is not None:
            ledger.close()


def make_parts(settings: Settings, **parts: Any) -> Resources:
    """Resources for a loop outside an app (tests, tools): those given, the rest made on first use."""
    made = Resources(settings)
    made.attach(**parts)
    return made


def init_app(app: Flask, settings: Settings) -> Resources:
    resources = app.extensions[EXTENSION] = Resources(settings)
    return resources


def resources(app: Optional[Flask] = None) -> Resources:
    return (app or current_app).extensions[EXTENSION]


def get_settings() -> Settings:
    return resources().settings


def get_aws() -> Aws:
    return resources().aws


def get_ledger() -> ClipLedger:
    return resources().ledger


def get_store() -> ClipStore:
    return resources().store


def get_frames() -> FrameStore:
    return resources().frames


def get_waits() -> HeldWaits:
    return resources().waits


def get_fleet():
    return resources().fleet


def get_metrics() -> Metrics:
    return resources().metrics


def get_registry() -> Registry:
    return resources().registry


def get_notifier() -> Notifier:
    return resources().notifier


def get_public_url() -> str:
    return resources().public_url


def get_lease():
    return resources().lease


def get_quotas():
    return resources().quotas


def get_not_ready() -> list[dict]:
    return resources().not_ready()
