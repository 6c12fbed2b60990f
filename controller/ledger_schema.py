"""The SQLite clip ledger's file: the ``clips`` table, the columns added to it since, and a row read back.

Apart from the ledger's operations (controller/ledger.py) because the file's shape changes on its own
schedule: a new column goes in ``ADDED`` and every older file gains it when opened, with no change to
how clips are written or read. ``connect`` is the one way a ledger file is opened.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from pathlib import Path

from .clip_row import ClipRow

SCHEMA = """
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
ADDED = (("label_counts", "TEXT"), ("snapshot_key", "TEXT"), ("video_dropped", "INTEGER NOT NULL DEFAULT 0"))


def connect(path: Path) -> sqlite3.Connection:
    """The ledger file at ``path``, made or brought up to date. WAL mode lets status reads run while
    the completions consumer writes; autocommit (each guarded UPDATE is its own transaction)."""
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None, timeout=10)
    db.row_factory = sqlite3.Row
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    have = {r["name"] for r in db.execute("PRAGMA table_info(clips)")}
    for name, kind in ADDED:
        if name not in have:
            db.execute(f"ALTER TABLE clips ADD COLUMN {name} {kind}")
    return db


def as_row(r: sqlite3.Row) -> ClipRow:
    """A ``clips`` row as a ``ClipRow``: times parsed, label counts decoded."""
    values = dict(r)
    for key in ("submitted_at", "started_at", "finished_at"):
        if values[key]:
            values[key] = datetime.fromisoformat(values[key])
    values["label_counts"] = json.loads(values["label_counts"] or "{}")
    values["video_dropped"] = bool(values["video_dropped"])
    return ClipRow(**values)
