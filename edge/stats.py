"""Per-clip accounting on the Pi, as the Lambda seed kept it: trigger, upload done, result stored.

A small SQLite file (safe across the agent's threads and restarts, readable by
``edgecloud edge stats`` while the agent runs). Each field is written when it
becomes known; a record is one row per clip id.
"""

from __future__ import annotations

import sqlite3
import threading
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path
from typing import Any, Optional

_COLUMNS = {
    "clip_id": "TEXT PRIMARY KEY",
    "triggered_at": "TEXT",
    "recorded_s": "REAL",
    "placement": "TEXT",
    "placement_reason": "TEXT",
    "bytes": "INTEGER",
    "bytes_sent": "INTEGER",
    "bytes_saved": "INTEGER",
    "local_s": "REAL",
    "upload_s": "REAL",
    "uploaded_at": "TEXT",
    "result_at": "TEXT",
    "status": "TEXT",
    "labels": "TEXT",
    "labels_edge": "TEXT",
    "best_score": "REAL",
    "video_dropped_at": "TEXT",
    "bytes_dropped": "INTEGER",
}
_TIMES = {"triggered_at", "uploaded_at", "result_at", "video_dropped_at"}


@dataclass
class ClipRecord:
    """What the agent knows about one clip; times are UTC datetimes, durations seconds."""

    clip_id: str
    triggered_at: Optional[datetime] = None
    recorded_s: Optional[float] = None
    placement: Optional[str] = None  # where the scheduler sent it: "edge" | "cloud" | "both" (escalated)
    placement_reason: Optional[str] = None  # why, in words: "the Pi was free", "the Pi was busy with clip ..."
    uploaded_at: Optional[datetime] = None
    result_at: Optional[datetime] = None
    labels: Optional[str] = None
    status: Optional[str] = None  # "done" | "failed" once a result is seen; "dropped": sent without video or result
    labels_edge: Optional[str] = None  # the Pi's own labels when the clip was escalated
    best_score: Optional[float] = None
    bytes: Optional[int] = None
    bytes_sent: Optional[int] = None
    bytes_saved: Optional[int] = None
    local_s: Optional[float] = None
    upload_s: Optional[float] = None
    video_dropped_at: Optional[datetime] = None  # the spool, over its cap, dropped the video (the record went up)
    bytes_dropped: Optional[int] = None

    @property
    def trigger_to_result_s(self) -> Optional[float]:
        """PIR trigger to result stored (the Pi's, or the cloud's as the controller reports it)."""
        if self.triggered_at is None or self.result_at is None:
            return None
        return (self.result_at - self.triggered_at).total_seconds()

    @property
    def trigger_to_upload_s(self) -> Optional[float]:
        if self.triggered_at is None or self.uploaded_at is None:
            return None
        return (self.uploaded_at - self.triggered_at).total_seconds()

    def to_json(self) -> dict:
        data = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in asdict(self).items()}
        data.update(trigger_to_result_s=self.trigger_to_result_s, trigger_to_upload_s=self.trigger_to_upload_s)
        return data


class StatsStore:
    """Per-clip records in SQLite at ``path``."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            cols = ", ".join(f"{name} {kind}" for name, kind in _COLUMNS.items())
            db.execute(f"CREATE TABLE IF NOT EXISTS clips ({cols})")
            have = {row[1] for row in db.execute("PRAGMA table_info(clips)")}
            for name in _COLUMNS.keys() - have:  # a file an older agent made
                db.execute(f"ALTER TABLE clips ADD COLUMN {name} {_COLUMNS[name]}")

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(self.path, timeout=30)

    def record(self, clip_id: str, **values: Any) -> None:
        """Set fields of a clip's record (creating it); None values are left as they were."""
        row = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in values.items() if v is not None}
        unknown = set(row) - set(_COLUMNS)
        if unknown:
            raise ValueError(f"unknown stats fields: {sorted(unknown)}")
        names = ["clip_id", *row]
        updates = ", ".join(f"{n}=excluded.{n}" for n in row) or "clip_id=clip_id"
        sql = (
            f"INSERT INTO clips ({', '.join(names)}) VALUES ({', '.join('?' * len(names))}) "
            f"ON CONFLICT(clip_id) DO UPDATE SET {updates}"
        )
        with self._lock, self._connect() as db:
            db.execute(sql, [clip_id, *row.values()])

    def records(self) -> list[ClipRecord]:
        with self._lock, self._connect() as db:
            db.row_factory = sqlite3.Row
            rows = db.execute("SELECT * FROM clips ORDER BY clip_id").fetchall()
        names = {f.name for f in fields(ClipRecord)}
        out = []
        for row in rows:
            data = {k: row[k] for k in row.keys()}
            for k in _TIMES:
                if data.get(k):
                    data[k] = datetime.fromisoformat(data[k])
            out.append(ClipRecord(**{k: v for k, v in data.items() if k in names}))
        return out

    def videos_dropped(self) -> tuple[int, int]:
        """(clips whose video the spool dropped, bytes that freed): the Pi's count of overflow."""
        with self._lock, self._connect() as db:
            n, freed = db.execute(
                "SELECT COUNT(*), COALESCE(SUM(bytes_dropped), 0) FROM clips WHERE video_dropped_at IS NOT NULL"
            ).fetchone()
        return n, freed

    def get(self, clip_id: str) -> Optional[ClipRecord]:
        return next((r for r in self.records() if r.clip_id == clip_id), None)

    def __repr__(self) -> str:
        return f"<StatsStore {self.path}>"
