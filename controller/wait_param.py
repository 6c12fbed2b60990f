"""The one rule for a long poll's ``?wait=``: seconds, a finite number >= 0, capped; absent is 0."""

from __future__ import annotations

import math

from flask import request

from edgecloud.shown import shown

from .errors import Refused


def wait_seconds(most: float) -> float:
    """The request's ``?wait=`` in seconds, at most ``most``.

    ``Refused`` (400) for anything but a finite number >= 0."""
    raw = request.args.get("wait")
    if raw is None:
        return 0.0
    try:
        wait = float(raw)
    except ValueError:
        raise Refused(f"wait must be a number of seconds, got {shown(raw)}") from None
    if not math.isfinite(wait):
        raise Refused(f"wait must be a number of seconds, got {shown(raw)}")
    if wait < 0:
        raise Refused("wait must be >= 0")
    return min(wait, most)
