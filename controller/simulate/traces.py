"""Arrival traces (sorted submit times, seconds) and duration distributions.

Traces: a CSV file of submit times (one per line, optional header),
``seed`` (the seed project's uploads: 9 clips, one every 15 s; simulated
with its 180 s per clip and 60 s boots unless ``--process``/``--boot`` say
otherwise: ``NAMED``), ``burst:N`` (N clips at t=0), ``poisson:RATE:DURATION`` (RATE clips/s for
DURATION s), ``diurnal:PEAK:HOURS`` (a day-shaped rate peaking at PEAK
clips/s, over HOURS hours, drawn by thinning a Poisson process).

Distributions: ``60`` (constant), ``normal:MEAN:SD``, ``uniform:A:B``,
``lognormal:MEAN:SIGMA`` (MEAN seconds on average, SIGMA the spread of the
logarithm), ``exp:MEAN``. Draws never go below zero.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np


class SpecError(ValueError):
    """A trace or distribution spec that cannot be used; the message says why."""


def _numbers(spec: str, parts: list[str], count: int, what: str) -> list[float]:
    if len(parts) != count:
        raise SpecError(f"{spec!r}: expected {what}")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise SpecError(f"{spec!r}: expected {what}, with numbers") from None
    if not all(math.isfinite(v) for v in values):
        raise SpecError(f"{spec!r}: numbers must be finite")
    return values


# Named traces: submit times, and the processing and boot times they were measured with.
NAMED = {
    "seed": (np.arange(9) * 15.0, {"process": "180", "boot": "60"}),
}


def load_trace(spec: str, rng: np.random.Generator) -> np.ndarray:
    """Submit times, sorted, as float64 seconds from 0."""
    if spec in NAMED:
        return NAMED[spec][0].copy()
    kind, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    if kind == "burst":
        (n,) = _numbers(spec, parts, 1, "burst:N")
        if n < 1 or n != int(n):
            raise SpecError(f"{spec!r}: N must be a whole number >= 1")
        return np.zeros(int(n))
    if kind == "poisson":
        rate, duration = _numbers(spec, parts, 2, "poisson:RATE:DURATION")
        if rate <= 0 or duration <= 0:
            raise SpecError(f"{spec!r}: RATE and DURATION must be > 0")
        return _poisson(rate, duration, rng)
    if kind == "diurnal":
        peak, hours = _numbers(spec, parts, 2, "diurnal:PEAK:HOURS")
        if peak <= 0 or hours <= 0:
            raise SpecError(f"{spec!r}: PEAK and HOURS must be > 0")
        return _diurnal(peak, hours * 3600.0, rng)
    path = Path(spec)
    if path.is_file():
        return _csv(path)
    raise SpecError(
        f"{spec!r}: not a file, nor {', '.join(NAMED)}, burst:N, poisson:RATE:DURATION or diurnal:PEAK:HOURS"
    )


def _poisson(rate: float, duration: float, rng: np.random.Generator) -> np.ndarray:
    n = rng.poisson(rate * duration)
    return np.sort(rng.uniform(0.0, duration, n))


def _diurnal(peak: float, duration: float, rng: np.random.Generator) -> np.ndarray:
    # Thinning: draw at the peak rate, keep each with rate(t) / peak. One cycle
    # per day, quiet at the start (night), busiest half a day in.
    times = _poisson(peak, duration, rng)
    shape = 0.5 * (1 - np.cos(2 * np.pi * times / 86400.0))
    return times[rng.uniform(0.0, 1.0, times.size) < shape]


def _csv(path: Path) -> np.ndarray:
    values = []
    with path.open(newline="") as f:
        for number, row in enumerate(csv.reader(f), 1):
            if not row or not row[0].strip():
                continue
            try:
                values.append(float(row[0]))
            except ValueError:
                if number == 1 and not values:
                    continue  # a header
                raise SpecError(f"{path}:{number}: not a submit time: {row[0]!r}") from None
            if not math.isfinite(values[-1]) or values[-1] < 0:
                raise SpecError(f"{path}:{number}: submit time must be a finite number >= 0")
    if not values:
        raise SpecError(f"{path}: no submit times")
    return np.sort(np.asarray(values, dtype=float))


def sample(spec: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """``size`` draws (seconds, >= 0) from a distribution spec."""
    kind, _, rest = spec.partition(":")
    parts = rest.split(":") if rest else []
    if not rest:
        (value,) = _numbers(spec, [kind], 1, "a number of seconds or KIND:PARAMS")
        if value < 0:
            raise SpecError(f"{spec!r}: seconds must be >= 0")
        return np.full(size, value)
    if kind == "normal":
        mean, sd = _numbers(spec, parts, 2, "normal:MEAN:SD")
        draws = rng.normal(mean, sd, size) if sd > 0 else np.full(size, mean)
    elif kind == "uniform":
        low, high = _numbers(spec, parts, 2, "uniform:A:B")
        if high < low:
            raise SpecError(f"{spec!r}: B must be >= A")
        draws = rng.uniform(low, high, size)
    elif kind == "lognormal":
        mean, sigma = _numbers(spec, parts, 2, "lognormal:MEAN:SIGMA")
        if mean <= 0 or sigma < 0:
            raise SpecError(f"{spec!r}: MEAN must be > 0 and SIGMA >= 0")
        draws = rng.lognormal(math.log(mean) - sigma * sigma / 2, sigma, size)
    elif kind == "exp":
        (mean,) = _numbers(spec, parts, 1, "exp:MEAN")
        if mean <= 0:
            raise SpecError(f"{spec!r}: MEAN must be > 0")
        draws = rng.exponential(mean, size)
    else:
        raise SpecError(f"{spec!r}: unknown distribution {kind!r} (normal, uniform, lognormal, exp)")
    return np.maximum(draws, 0.0)
