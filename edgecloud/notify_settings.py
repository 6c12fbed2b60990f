"""The ``notify:`` settings section: alert rules and where alerts go (see controller/notify.py).

Its own module as every section is; edgecloud.settings gathers them.
"""

from __future__ import annotations

from typing import Optional

from pydantic import Field

from .sections import Section


class NotifyRule(Section):
    labels: list[str] = Field(default_factory=list, description="Any of these labels (empty: any).")
    devices: list[str] = Field(default_factory=list, description="Only these devices (empty: all).")
    min_score: float = Field(0.5, ge=0, le=1, description="A label counts only at this score or better.")
    zones: list[str] = Field(
        default_factory=list,
        description="Only objects whose zones include any of these "
        "(zones:, per device; empty: anywhere). Needs tracked objects.",
    )
    quiet_s: float = Field(
        300,
        ge=0,
        description="After an alert the rule is silent this long, per device. Each "
        "event alerts once per rule anyway; this also spaces alerts for new events (0: every event).",
    )


class NotifySettings(Section):
    rules: list[NotifyRule] = Field(default_factory=list, description="Alert rules; none: no alerts.")
    sns_topic: Optional[str] = Field("edgecloud-events", description="SNS topic (name or ARN) for alerts; null: none.")
    webhook_url: Optional[str] = Field(None, description="POST each alert as JSON here; null: no webhook.")
    webhook_timeout_s: float = Field(5, gt=0, le=60, description="HTTP timeout of one webhook try.")
    retries: int = Field(5, ge=1, le=20, description="Tries per alert and channel (exponential backoff).")
    queue_size: int = Field(100, ge=1, le=10000, description="Alerts waiting to go out; more are dropped.")
    link_ttl_s: int = Field(86400, ge=60, le=604800, description="Seconds an alert's snapshot link lasts.")


__all__ = ["NotifyRule", "NotifySettings"]
