"""The ``edge:`` settings section: the Raspberry Pi agent (edge/), its sensor, camera, spool and uploads.

``edgecloud.settings`` gathers every section.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Optional

from pydantic import Field

from .sections import Section


class EdgeSettings(Section):
    device_id: str = Field("pi-01", pattern=r"^[a-z0-9][a-z0-9-]{0,31}$", description="Names this Pi in clip ids.")
    controller_url: str = Field("http://127.0.0.1:8080", description="Where clips are POSTed.")
    pir_pin: int = Field(17, ge=0, le=40, description="BCM pin of the PIR sensor's output.")
    camera: Literal["auto", "picamera2", "file"] = Field(
        "auto", description="picamera2 on a Pi, file elsewhere; auto picks."
    )
    video: Optional[Path] = Field(None, description="Footage the file camera plays (simulation).")
    playback_speed: float = Field(1.0, gt=0, le=100, description="File camera: video seconds per wall second.")
    resolution: tuple[int, int] = Field((1280, 720), description="Camera frame size (picamera2).")
    fps: float = Field(10, gt=0, le=120, description="Camera frame rate.")
    bitrate: int = Field(4_000_000, gt=0, description="H.264 bitrate.")
    preroll_seconds: float = Field(1.0, ge=0, le=30, description="Video kept from before the trigger.")
    clip_seconds: float = Field(5.0, gt=0, le=600, description="Clip length after the trigger.")
    max_clip_seconds: float = Field(30.0, gt=0, le=3600, description="Longest clip while motion continues.")
    cooldown_seconds: float = Field(2.0, ge=0, description="Quiet time after a clip before another starts.")
    spool_dir: Path = Field(Path("var/spool"), description="Durable outbox: clips wait here until a 201.")
    spool_max_mb: float = Field(
        1024,
        gt=0,
        description="Spool size cap; over it the oldest clips lose their video, never their record (sent, counted).",
    )
    policy: Literal["busy-offload", "fastest-finish", "escalate-uncertain"] = Field(
        "fastest-finish", description="Where each clip is processed."
    )
    escalate_below: float = Field(0.6, ge=0, le=1, description="escalate-uncertain: send to cloud under this score.")
    upload_timeout_s: float = Field(30, gt=0, description="HTTP timeout of one upload.")
    retry_max_s: float = Field(60, gt=0, description="Longest backoff between upload tries.")
    downscale_width: Optional[int] = Field(None, ge=64, description="Re-encode to this width before upload.")
    downscale_crf: int = Field(28, ge=0, le=51, description="x264 quality of the re-encode (higher = smaller).")
    stats_path: Optional[Path] = Field(
        None, description="Per-clip round-trip records (SQLite); null: edge-stats.sqlite beside spool_dir."
    )
    user: str = Field("edgecloud", description="Non-root user `edgecloud edge install` runs the agent as.")
    result_wait_s: float = Field(10, ge=0, le=60, description="Long-poll of one cloud result (GET ?wait=).")
    mode: Literal["clips", "frames"] = Field(
        "clips",
        description="frames: while motion lasts, a JPEG every "
        "frame_interval_s straight to S3, each answered; clips: clips.",
    )
    frame_interval_s: float = Field(0.5, gt=0, le=60, description="Seconds between frames (mode: frames).")
    frame_quality: int = Field(80, ge=10, le=100, description="JPEG quality of each frame (mode: frames).")
    result_deadline_s: float = Field(
        900,
        gt=0,
        description="Stop watching for a cloud result after this long "
        "(the clip stays in the cloud; only the Pi's stats miss it).",
    )
    token_file: Optional[Path] = Field(None, description="This device's bearer token (0640 root:user); null: none.")
    ca_bundle: Optional[Path] = Field(None, description="PEM of a private CA to trust for the controller's HTTPS.")
    emulated_pi_slowdown: float = Field(
        1.0,
        ge=1,
        le=100,
        description="This machine playing the Pi (edgecloud "
        "demo, edge simulate): each clip's local analysis, really run, is held until "
        "it has taken this many times as long, a Pi's pace (about 6x slower); 1: "
        "no pacing, as on a real Pi.",
    )
