"""Client input quoted in an error message, cut short: a hostile 4 KB id is not echoed whole."""

from __future__ import annotations

MOST = 80


def shown(value, most: int = MOST) -> str:
    """``repr`` of a value for an error message, cut to ``most`` characters."""
    text = repr(value)
    return text if len(text) <= most else f"{text[:most]}... ({len(text)} characters)"
