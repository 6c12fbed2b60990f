"""The ``controller:`` settings section: the API the Pis and the dashboard talk to (controller/).

Its nginx front's fields come from ``FrontSettings`` (front_settings.py); ``edgecloud.settings`` gathers
every section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field

from .front_settings import FrontSettings


class ControllerSettings(FrontSettings):  # and the nginx front's, from front_settings.py
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8080, ge=0, le=65535, description="Port the API listens on (0 picks a free one).")
    url: Optional[str] = Field(
        None,
        description="Public URL of the API, for status and alert links; null: the "
        "URL serve listens on (never the request's Host header).",
    )
    data_dir: Path = Field(Path("var/controller"), description="Where the clip ledger (SQLite) lives.")
    ledger: Literal["sqlite", "dynamodb"] = Field(
        "sqlite",
        description="Where clip status lives: sqlite (one "
        "controller, in data_dir) | dynamodb (tables.clips, shared by "
        "any number of controllers; the stack's choice).",
    )
    max_clip_mb: float = Field(200, gt=0, description="Uploads over this size are refused (413).")
    threads: int = Field(16, ge=1, le=256, description="gunicorn threads serving the API.")
    max_wait_s: float = Field(60, ge=0, description="Longest ?wait= a status request may hold.")
    max_frame_kb: int = Field(512, ge=1, le=5120, description="Largest frame a presigned POST lets a Pi upload.")
    frame_post_ttl_s: int = Field(
        60,
        ge=10,
        le=3600,
        description="Life of a presigned frame POST: one "
        "frame's key, used at once; a leaked one is replayable this long.",
    )
    max_held_waits: Optional[int] = Field(
        None,
        ge=0,
        le=256,
        description="?wait= requests held at once "
        "(null: half the threads); past it a poll is answered at once, so "
        "uploads always find a thread.",
    )
    max_waits_per_device: int = Field(3, ge=0, le=64, description="?wait= requests one device may hold at once.")
    token_cache_s: float = Field(
        30,
        ge=0,
        le=60,
        description="Seconds a checked token is trusted without asking "
        "the registry again: a revoked token stops working within this.",
    )
    link_ttl_s: int = Field(600, ge=10, le=604800, description="Seconds a presigned video/snapshot link lasts.")
    secret_key: Optional[str] = Field(
        None,
        min_length=32,
        description="Signs the dashboard's one-time login "
        "links; null: a key made once and kept in AWS Secrets Manager as "
        "controller.secret_name (shared by every controller).",
    )
    session_hours: float = Field(12, gt=0, le=720, description="Dashboard login lifetime.")
    upload_burst: int = Field(
        30,
        ge=1,
        description="Requests a device may burst, each upload (refused ones "
        "too), poll and frame grant (token bucket, per controller).",
    )
    upload_refill_per_s: float = Field(
        5.0,
        gt=0,
        description="Requests per second a device's bucket regains "
        "(frames mode at 0.5 s asks up to 4/s: a grant and an answers poll a frame).",
    )
    daily_clip_cap: int = Field(20_000, ge=1, description="Uploads per device per UTC day, across all controllers.")
    tls_cert: Optional[Path] = Field(None, description="PEM certificate chain to serve HTTPS with; null: plain HTTP.")
    tls_key: Optional[Path] = Field(None, description="PEM private key of tls_cert (both or neither).")
    bad_token_per_min: int = Field(
        20,
        ge=1,
        description="Wrong tokens one source address may present a minute "
        "(per controller); past it 429, with no credentials read.",
    )
    secret_name: str = Field(
        "edgecloud/dashboard-key",
        description="AWS Secrets Manager secret holding the "
        "dashboard's signing key when secret_key is null (the stack makes it; elsewhere the "
        "first controller that needs it does).",
    )
