"""The demo's dashboard: an operator for the run, a one-time login link, and serving until Ctrl-C."""

from __future__ import annotations

import signal
import threading

from edgecloud.aws import Aws
from edgecloud.config import Settings
from edgecloud.controller.dashboard.auth import make_login_link
from edgecloud.credentials import CredentialError, Registry

DEMO_OPERATOR = "demo"


def open_dashboard(settings: Settings, url: str) -> tuple[dict, str]:
    """({"url", "login_url"}, the operator's token) for a dashboard at ``url``: the operator
    ``demo`` is made for the run (its token shown once; the link carries only its signed hash)."""
    aws = Aws(settings.aws)
    registry = Registry(aws, settings.tables.credentials)
    try:
        token = registry.add("operator", DEMO_OPERATOR)
    except CredentialError:  # a shared embedded AWS from an earlier run: issue a fresh one
        registry.revoke("operator", DEMO_OPERATOR)
        token = registry.add("operator", DEMO_OPERATOR)
    return {"url": url.rstrip("/") + "/", "login_url": make_login_link(settings, aws, url, token)}, token


def wait_for_interrupt(stop: threading.Event | None = None) -> None:
    """Block until Ctrl-C or SIGTERM (or ``stop``), then return so the caller's exits stop every process."""
    stop = stop or threading.Event()
    # Both set explicitly: a shell that starts us in the background leaves SIGINT ignored.
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stop.wait(0.5):
            pass
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
