"""The one clock: every timestamp edgecloud writes is aware and in UTC."""

from __future__ import annotations

from datetime import datetime, timezone


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def parse_utc(text: str) -> datetime:
    """An ISO 8601 time as the clock keeps it (aware, UTC); one without a zone is UTC. ValueError if not one."""
    when = datetime.fromisoformat(text)
    return (when if when.tzinfo else when.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)
