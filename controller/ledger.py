"""The clip ledger: one SQLite row per clip, for status pages and latency stats.

S3 holds the results (the source of truth); the ledger only answers "where is
clip X" and "how fast are we lately" without listing buckets. SQLite in WAL
mode lets status reads run while the completions consumer writes. The file's
schema and its migrations: ``ledger_schema``.
"""

from __future__ import annotations

import json
import statistics
import threading
from datetime import datetime
from pathlib import Path
from typing import Optional

from edgecloud.protocol.messages import Result
from edgecloud.protocol.states import FINAL, ClipStatus

from .clip_row import ClipRow, iso
from .event_store import NotesEvents
from .ledger_reopen import SqliteReopening
from .ledger_schema import as_row, connect
from .ledger_waits import FinalWaits

# A clip whose upload is being stored (STORING) moves on to 'queued' (or a final state) only once
# its job (or the edge's result) is in, so 'queued' means "job sent".
DROPPED, STORING = ClipStatus.DROPPED, ClipStatus.STORING


class Ledger(NotesEvents, SqliteReopening, FinalWaits):
    """Thread-safe clip table. Writers notify waiters, so ``wait_final`` wakes at once;
    it re-reads every ``recheck_s`` too, in case another process wrote the file."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._init_waits()
        self._db = connect(self.path)

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
                    iso(submitted_at),
                    iso(finished_at),
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
                "SELECT * FROM clips WHERE status = ? AND submitted_at < ? ORDER BY clip_id", (STORING, iso(when))
            ).fetchall()
        return [as_row(r) for r in rows]

    def get(self, clip_id: str) -> Optional[ClipRow]:
        with self._lock:
            r = self._db.execute("SELECT * FROM clips WHERE clip_id = ?", (clip_id,)).fetchone()
        return as_row(r) if r else None

    def mark_started(self, clip_id: str, at: datetime, processed_by: str) -> bool:
        # A late 'started' must never move a finished clip backwards.
        return bool(
            self._write(
                "UPDATE clips SET status = 'processing', started_at = ?, processed_by = ?"
                " WHERE clip_id = ? AND status = 'queued'",
                (iso(at), processed_by, clip_id),
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
                    iso(at),
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
        return [as_row(r) for r in rows]

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
                (iso(since),),
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
        return [as_row(r) for r in rows]

    def finished_since(self, since: datetime) -> list[ClipRow]:
        """Clips finished since ``since``, oldest first (the latency chart)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT * FROM clips WHERE finished_at >= ? ORDER BY finished_at", (iso(since),)
            ).fetchall()
        return [as_row(r) for r in rows]

    def devices(self, today: datetime) -> list[dict]:
        """Each device: when it last sent a clip, and how many it sent since ``today`` (midnight)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT device_id, MAX(submitted_at), COALESCE(SUM(submitted_at >= ?), 0) FROM clips"
                " GROUP BY device_id ORDER BY device_id",
                (iso(today),),
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
