"""EC2 on-demand billing: per second, with a 60-second minimum per instance."""

from __future__ import annotations

import numpy as np

from edgecloud.retirement import EC2_MINIMUM_BILLED_S

# c6i.large on-demand, us-east-1, USD per hour.
DEFAULT_HOURLY_PRICE = 0.085


def billed_seconds(launched: np.ndarray, ended: np.ndarray, minimum_s: float = EC2_MINIMUM_BILLED_S) -> np.ndarray:
    """Seconds billed per instance, from launch to end, at least ``minimum_s``."""
    return np.maximum(np.asarray(ended, dtype=float) - np.asarray(launched, dtype=float), minimum_s)


def cost(instance_seconds: float, hourly_price: float = DEFAULT_HOURLY_PRICE) -> float:
    """USD for that many billed instance-seconds."""
    return instance_seconds / 3600.0 * hourly_price
