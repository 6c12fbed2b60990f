"""The ``limits:`` settings section: what one clip may be (edgecloud/limits.py applies them).

Apart from limits.py so the schema never imports the video libraries; ``edgecloud.settings`` gathers every
section.
"""

from __future__ import annotations

from pydantic import Field

from .sections import Section


class LimitsSettings(Section):
    """What one clip may be: checked from its headers before anything decodes it, and while it decodes."""

    max_pixels: int = Field(
        3840 * 2160,
        ge=64 * 64,
        description="Largest frame in pixels, width x height "
        "(3840x2160): a clip with bigger ones is refused (422 at upload; failed if it arrives "
        "at a worker, the Pi or the function by another path).",
    )
    max_frames: int = Field(
        3600,
        ge=1,
        description="Most frames in one clip (from its headers; a raw H.264 stream's are counted without decoding).",
    )
    max_duration_s: float = Field(120, gt=0, description="Longest clip, in seconds of video.")
    clip_budget_s: float = Field(
        300,
        gt=0,
        description="Wall-clock seconds one clip's analysis may take; past "
        "it the clip ends failed, its heartbeat stops and the worker takes the next job. "
        "300: 2.5x queues.visibility_timeout, and several times what a clip at every "
        "limit takes (sampled at detector.sample_fps); the function also stops at "
        "function.timeout_s.",
    )
