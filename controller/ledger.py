"""The clip ledger: one SQLite row per clip, for status pages and latency stats.

S3 holds the results (the source of truth); the ledger only answers "where is
clip X" and "how fast are we lately" without listing buckets. SQLite in WAL
mode lets status reads run while the completions consumer writes.
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import threading
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Optional

from edgecloud.protocol.ids import ClipId
from edgecloud.protocol.messages import Result
from edgecloud.protocol.states import FINAL, ClipStatus

from .clip_ledger import ClipLedger
from .event_store import NotesEvents
from .ledger_reopen import SqliteReopening
from .ledger_waits import FinalWaits

# A clip whose upload is being stored (STORING) moves on to 'queued' (or a final state) only once
# its job (or the edge's result) is in, so 'queued' means "job sent".
DROPPED, STORING = ClipStatus.DROPPED, ClipStatus.STORING

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    clip_id      TEXT PRIMARY KEY,
    device_id    TEXT NOT NULL,
    status       TEXT NOT NULL,
    submitted_at TEXT NOT NULL,
    started_at   TEXT,
    finished_at  TEXT,
    processed_by TEXT,
    upload_to_result_s REAL,
    process_s    REAL,
    error        TEXT
);
CREATE INDEX IF NOT EXISTS clips_finished ON clips (finished_at);
CREATE INDEX IF NOT EXISTS clips_submitted ON clips (submitted_at);
"""
# Columns added since the table was first made: (name, type), added to an older file on open.
_ADDED = (("label_counts", "TEXT"), ("snapshot_key", "TEXT"), ("video_dropped", "INTEGER NOT NULL DEFAULT 0"))


@dataclass(frozen=True)
class ClipRow:
    """One clip as the ledger knows it."""

    clip_id: str
    device_id: str
    status: str
    submitted_at: datetime
    started_at: Optional[datetime] = None
    finished_at: Optional[datetime] = None
    processed_by: Optional[str] = None
    upload_to_result_s: Optional[float] = None
    process_s: Optional[float] = None
    error: Optional[str] = None
    label_counts: dict = field(default_factory=dict)  # label -> most seen in one frame
    snapshot_key: Optional[str] = None
    video_dropped: bool = False  # the record came without its video (the Pi's spool dropped it)

    @property
    def final(self) -> bool:
        return self.status in FINAL

    @property
    def recorded_at(self) -> datetime:  # when the camera recorded it (its trigger time): the clip id's time
        return ClipId(self.clip_id).recorded_at


def _iso(when: Optional[datetime]) -> Optional[str]:
    # Fixed width, so text order is time order in SQL comparisons.
    return when.isoformat(timespec="microseconds") if when else None


def _row(r: sqlite3.Row) -> ClipRow:
    values = dict(r)
    for key in ("submitted_at", "started_at", "finished_at"):
        if values[key]:
            values[key] = datetime.fromisoformat(values[key])
    values["label_counts"] = json.loads(values["label_counts"] or "{}")
    values["video_dropped"] = bool(values["video_dropped"])
    return ClipRow(**values)


class Ledger(NotesEvents, SqliteReopening, FinalWaits):
    """Thread-safe clip table. Writers notify waiters, so ``wait_final`` wakes at once;
    it re-reads every ``recheck_s`` too, in case another process wrote the file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._init_waits()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        have = {r["name"] for r in self._db.execute("PRAGMA table_info(clips)")}
        for name, kind in _ADDED:
            if name not in have:
                self._db.execute(f"ALTER TABLE clips ADD COLUMN {name} {kind}")

    @classmethod
    def in_dir(cls, data_dir: str | Path) -> "Ledger":
        return cls(Path(data_dir) / "ledger-v2.sqlite3")  # v2: device_id, upload_to_result_s

    def _write(self, sql: str, params: tuple) -> int:
        with self._lock:
            changed = self._db.execute(sql, params).rowcount
        if changed:
            self._notify()
        return changed

    def add(
        self,
        clip_id: str,
        device_id: str,
        status: str,
        submitted_at: datetime,
        *,
        processed_by: Optional[str] = None,
        finished_at: Optional[datetime] = None,
        error: Optional[str] = None,
        video_dropped: bool = False,
    ) -> bool:
        """Record a new clip; False (and nothing changed) if the id is known already."""
        latency = (finished_at - submitted_at).total_seconds() if finished_at else None
        return bool(
            self._write(
                "INSERT OR IGNORE INTO clips (clip_id, device_id, status, submitted_at, finished_at, processed_by,"
                " upload_to_result_s, error, video_dropped) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    clip_id,
                    device_id,
                    status,
                    _iso(submitted_at),
                    _iso(finished_at),
                    processed_by,
                    latency,
                    error,
                    int(video_dropped),
                ),
            )
        )

    def forget(self, clip_id: str) -> None:
        """Drop a clip whose upload failed half-way, so the edge's retry is not a 'duplicate'."""
        self._write("DELETE FROM clips WHERE clip_id = ? AND status = ?", (clip_id, STORING))  # never one moved on

    def mark_queued(self, clip_id: str) -> bool:
        """The clip's job is sent: a storing row becomes queued."""
        return bool(
            self._write("UPDATE clips SET status = 'queued' WHERE clip_id = ? AND status = ?", (clip_id, STORING))
        )

    def storing_since_before(self, when: datetime) -> list[ClipRow]:
        """Rows left 'storing' by uploads that began before ``when`` (a controller killed mid-upload)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM clips WHERE status = ? AND submitted_at < ? ORDER BY clip_id", (STORING, _iso(when))
            ).fetchall()
        return [_row(r) for r in rows]

    def get(self, clip_id: str) -> Optional[ClipRow]:
        with self._lock:
            r = self._db.execute("SELECT * FROM clips WHERE clip_id = ?", (clip_id,)).fetchone()
        return _row(r) if r else None

    def mark_started(self, clip_id: str, at: datetime, processed_by: str) -> bool:
        # A late 'started' must never move a finished clip backwards.
        return bool(
            self._write(
                "UPDATE clips SET status = 'processing', started_at = ?, processed_by = ?"
                " WHERE clip_id = ? AND status = 'queued'",
                (_iso(at), processed_by, clip_id),
            )
        )

    def mark_finished(
        self,
        clip_id: str,
        status: str,
        at: datetime,
        *,
        processed_by: Optional[str] = None,
        process_s: Optional[float] = None,
        error: Optional[str] = None,
        result: Optional[Result] = None,
    ) -> bool:
        """Final state of a clip; latency is measured from its submission. First final state wins.
        With its ``result``, the row keeps what was seen (label counts) and the snapshot's key."""
        if status not in FINAL:
            raise ValueError(f"not a final status: {status!r}")
        row = self.get(clip_id)
        if row is None or row.final:
            return False
        self._note_event(result)
        latency = round((at - row.submitted_at).total_seconds(), 3)
        counts = json.dumps({k: v.max_count for k, v in result.summary.items()}) if result else None
        return bool(
            self._write(
                "UPDATE clips SET status = ?, finished_at = ?, upload_to_result_s = ?,"
                " processed_by = COALESCE(?, processed_by),"
                " process_s = COALESCE(?, process_s), error = ?, label_counts = ?, snapshot_key = ?"
                f" WHERE clip_id = ? AND status NOT IN ({', '.join('?' * len(FINAL))})",
                (
                    status,
                    _iso(at),
                    latency,
                    processed_by,
                    process_s,
                    error,
                    counts,
                    result and result.snapshot_key,
                    clip_id,
                    *FINAL,
                ),
            )
        )

    def recent_cloud(self, limit: int = 50) -> list[ClipRow]:
        """The latest clips finished by a cloud worker (not the edge), newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM clips WHERE status = 'done' AND processed_by IS NOT NULL AND processed_by != 'edge'"
                " ORDER BY finished_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [_row(r) for r in rows]

    def medians(self, limit: int = 50) -> tuple[Optional[float], Optional[float]]:
        """(median upload_to_result_s, median process_s) of recent cloud clips; None if none."""
        rows = self.recent_cloud(limit)
        upload_to_result = [r.upload_to_result_s for r in rows if r.upload_to_result_s is not None]
        process = [r.process_s for r in rows if r.process_s is not None]
        return (
            round(statistics.median(upload_to_result), 3) if upload_to_result else None,
            round(statistics.median(process), 3) if process else None,
        )

    def cloud_submissions(self, since: datetime) -> tuple[int, Optional[datetime]]:
        """(clips queued for the cloud since ``since``, when the latest was), for the arrival rate.
        Clips the edge processed itself put no load on workers and are left out."""
        with self._lock:
            n, latest = self._db.execute(
                "SELECT COALESCE(SUM(submitted_at >= ?), 0), MAX(submitted_at) FROM clips"
                " WHERE processed_by IS NULL OR processed_by != 'edge'",
                (_iso(since),),
            ).fetchone()
        return n, (datetime.fromisoformat(latest) if latest else None)

    def search(
        self, *, device: str = "", label: str = "", status: str = "", day: str = "", limit: int = 25, offset: int = 0
    ) -> list[ClipRow]:
        """Clips newest recorded first (by clip id), filtered by device, label seen, status and recorded day."""
        where, params = [], []
        for column, value in (("device_id", device), ("status", status)):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if label:
            where.append("EXISTS (SELECT 1 FROM json_each(label_counts) WHERE key = ?)")
            params.append(label)
        if day:
            where.append("substr(clip_id, 1, 8) = ?")
            params.append(day.replace("-", ""))
        sql = "SELECT * FROM clips" + (" WHERE " + " AND ".join(where) if where else "")
        with self._lock:
            rows = self._db.execute(
                sql + " ORDER BY clip_id DESC LIMIT ? OFFSET ?", (*params, limit, offset)
            ).fetchall()
        return [_row(r) for r in rows]

    def finished_since(self, since: datetime) -> list[ClipRow]:
        """Clips finished since ``since``, oldest first (the latency chart)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM clips WHERE finished_at >= ? ORDER BY finished_at", (_iso(since),)
            ).fetchall()
        return [_row(r) for r in rows]

    def devices(self, today: datetime) -> list[dict]:
        """Each device: when it last sent a clip, and how many it sent since ``today`` (midnight)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device_id, MAX(submitted_at), COALESCE(SUM(submitted_at >= ?), 0) FROM clips"
                " GROUP BY device_id ORDER BY device_id",
                (_iso(today),),
            ).fetchall()
        return [{"device_id": d, "last_seen": datetime.fromisoformat(last), "clips_today": n} for d, last, n in rows]

    def first_submitted(self) -> Optional[datetime]:
        """When the oldest clip the ledger holds was submitted: how far back its
        history reaches (it outlives restarts), None while it is empty."""
        with self._lock:
            (first,) = self._db.execute("SELECT MIN(submitted_at) FROM clips").fetchone()
        return datetime.fromisoformat(first) if first else None

    def oldest_submitted(self, statuses: tuple[str, ...]) -> Optional[datetime]:
        """When the oldest clip now in one of these statuses was submitted (None: no such clip)."""
        with self._lock:
            (first,) = self._db.execute(
                f"SELECT MIN(submitted_at) FROM clips WHERE status IN ({', '.join('?' * len(statuses))})", statuses
            ).fetchone()
        return datetime.fromisoformat(first) if first else None

    def videos_dropped(self) -> int:
        """Clips whose record arrived without its video (the Pi's spool dropped it)."""
        with self._lock:
            (n,) = self._db.execute(
                f"SELECT COUNT(*) FROM clips WHERE video_dropped AND status IN ({', '.join('?' * len(FINAL))})", FINAL
            ).fetchone()
        return n

    def counts(self) -> dict[str, int]:
        with self._lock:
            rows = self._db.execute("SELECT status, COUNT(*) FROM clips GROUP BY status").fetchall()
        return {status: n for status, n in rows}

    def close(self) -> None:
        with self._lock:
            self._db.close()
        if self.events is not None:
            self.events.close()

    def __repr__(self) -> str:
        return f"<Ledger {self.path}>"


def open_ledger(settings, aws=None) -> ClipLedger:
    """The ledger ``controller.ledger`` names: SQLite in ``data_dir`` (one controller), or the
    DynamoDB table ``tables.clips`` that any number of controllers share."""
    from .event_store import open_events

    if settings.controller.ledger == "dynamodb":
        from edgecloud.aws import Aws

        from .ledger_dynamo import DynamoLedger

        ledger: ClipLedger = DynamoLedger(aws or Aws(settings.aws), settings.tables.clips)
    else:
        ledger = Ledger.in_dir(settings.controller.data_dir)
    ledger.events = open_events(settings, aws)  # clips with objects join events as they finish
    return ledger
