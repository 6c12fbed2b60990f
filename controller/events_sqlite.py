"""Events in SQLite (``events.sqlite3`` beside the SQLite ledger, one controller).

Each clip is placed inside one ``BEGIN IMMEDIATE`` transaction (read the device's events near it,
regroup, write), so concurrent writers, threads or processes, place clips one at a time. A merged
event's row stays as a tombstone (``merged_into``) so its id still leads to the event.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from datetime import datetime
from itertools import islice
from pathlib import Path
from typing import Iterator, Optional

from .clip_row import iso
from .event_pages import Window
from .events import Event, EventClip, make_event, near, regroup

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id    TEXT PRIMARY KEY,
    device_id   TEXT NOT NULL,
    started_at  TEXT,
    ended_at    TEXT,
    body        TEXT,
    merged_into TEXT
);
CREATE INDEX IF NOT EXISTS events_device ON events (device_id, started_at);
CREATE INDEX IF NOT EXISTS events_started ON events (started_at);
"""
MERGE_HOPS = 8  # tombstones are kept pointing at the survivor, so one hop is the rule


def body_of(event: Event) -> str:
    return json.dumps({"clips": [c.as_dict() for c in event.clips], "claims": sorted(event.claims)})


def event_from(event_id: str, device_id: str, body: str) -> Event:
    data = json.loads(body)
    return make_event(
        event_id, device_id, (EventClip.from_dict(device_id, c) for c in data["clips"]), data.get("claims", ())
    )


class SqliteEvents:
    def __init__(self, path: str | Path, *, gap_s: float = 30.0):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.gap_s = gap_s
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    @classmethod
    def in_dir(cls, data_dir: str | Path, *, gap_s: float = 30.0) -> "SqliteEvents":
        return cls(Path(data_dir) / "events.sqlite3", gap_s=gap_s)

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")  # other processes wait (timeout) rather than interleave
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _near(self, db: sqlite3.Connection, clip: EventClip) -> list[Event]:
        after, before = near(clip, self.gap_s)
        rows = db.execute(
            "SELECT * FROM events WHERE device_id = ? AND merged_into IS NULL AND started_at < ? AND ended_at > ?",
            (clip.device_id, iso(before), iso(after)),
        ).fetchall()
        return [event_from(r["event_id"], r["device_id"], r["body"]) for r in rows]

    def _put(self, db: sqlite3.Connection, event: Event) -> None:
        db.execute(
            "INSERT OR REPLACE INTO events (event_id, device_id, started_at, ended_at, body) VALUES (?, ?, ?, ?, ?)",
            (event.event_id, event.device_id, iso(event.started_at), iso(event.ended_at), body_of(event)),
        )

    def add_clip(self, clip: EventClip) -> Event:
        with self._transaction() as db:
            event, merged = regroup(self._near(db, clip), clip, self.gap_s)
            self._put(db, event)
            for gone in merged:
                db.execute(
                    "UPDATE events SET merged_into = ?, started_at = NULL, ended_at = NULL, body = NULL"
                    " WHERE event_id = ? OR merged_into = ?",
                    (event.event_id, gone.event_id, gone.event_id),
                )
        return event

    def event_of(self, clip: EventClip) -> Optional[Event]:
        with self._lock:
            found = [e for e in self._near(self._db, clip) if clip.clip_id in e.clip_ids]
        return found[0] if found else None

    def _row(self, db: sqlite3.Connection, event_id: str) -> Optional[sqlite3.Row]:
        for _ in range(MERGE_HOPS):
            row = db.execute("SELECT * FROM events WHERE event_id = ?", (event_id,)).fetchone()
            if row is None or row["merged_into"] is None:
                return row
            event_id = row["merged_into"]
        return None

    def get(self, event_id: str) -> Optional[Event]:
        with self._lock:
            row = self._row(self._db, event_id)
        return event_from(row["event_id"], row["device_id"], row["body"]) if row else None

    def search(
        self,
        *,
        device: str = "",
        label: str = "",
        zone: str = "",
        since: Optional[datetime] = None,
        before: Optional[datetime] = None,
        before_id: str = "",
        limit: int = 50,
    ) -> list[Event]:
        where, params = Window(since, before, before_id).sql()
        if device:
            where.append("device_id = ?")
            params.append(device)
        with self._lock:  # read row by row until ``limit`` match
            rows = self._db.execute(
                f"SELECT * FROM events WHERE {' AND '.join(['merged_into IS NULL', *where])}"
                " ORDER BY started_at DESC, event_id DESC",
                params,
            )
            events = (event_from(r["event_id"], r["device_id"], r["body"]) for r in rows)
            return list(
                islice((e for e in events if (not label or label in e.labels) and (not zone or zone in e.zones)), limit)
            )

    def claim(self, event_id: str, mark: str) -> bool:
        with self._transaction() as db:
            row = self._row(db, event_id)
            if row is None:
                return False
            event = event_from(row["event_id"], row["device_id"], row["body"])
            if mark in event.claims:
                return False
            self._put(db, make_event(event.event_id, event.device_id, event.clips, event.claims | {mark}))
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"<SqliteEvents {self.path}>"
