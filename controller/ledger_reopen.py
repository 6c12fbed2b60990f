"""Sending a failed clip through again, in both ledgers: find the failed clips, move one back.

A final state is otherwise for ever (first final state wins); ``reopen`` is the one
way back, for a clip that failed for a reason that was not its own (a worker with no
model, an outage). It moves ``failed`` to ``storing`` and clears the last outcome, in
one guarded write, so of two retries racing only one reopens the clip (and queues
it); the row then moves on exactly as an upload's does (``Intake.resume``: storing
-> queued once its job is sent), and a controller killed in between leaves it to the
sweep of stranded uploads.
"""

from __future__ import annotations

from datetime import datetime
from typing import Optional

from edgecloud.clip_table import BY_STATUS
from edgecloud.protocol.states import ClipStatus

from .clip_row import ClipRow, iso
from .ledger_schema import as_row

STORING, FAILED = ClipStatus.STORING, ClipStatus.FAILED
# What a reopened clip forgets: its last try's outcome.
_OUTCOME = (
    "started_at",
    "finished_at",
    "processed_by",
    "upload_to_result_s",
    "process_s",
    "error",
    "label_counts",
    "snapshot_key",
)


class SqliteReopening:
    """Mixed into the SQLite ``Ledger``."""

    def in_status(self, status: str, *, device: str = "", since: Optional[datetime] = None) -> list[ClipRow]:
        """Every clip now in ``status`` (of ``device``, submitted at or after ``since``), oldest first."""
        sql, params = "SELECT * FROM clips WHERE status = ?", [status]
        if device:
            sql, params = sql + " AND device_id = ?", [*params, device]
        if since is not None:
            sql, params = sql + " AND submitted_at >= ?", [*params, iso(since)]
        with self._lock:
            rows = self._db.execute(sql + " ORDER BY submitted_at, clip_id", params).fetchall()
        return [as_row(r) for r in rows]

    def reopen(self, clip_id: str) -> bool:
        """A failed clip back to 'storing', its outcome cleared; False when it is not failed (now)."""
        cleared = ", ".join(f"{column} = NULL" for column in _OUTCOME)
        return bool(
            self._write(
                f"UPDATE clips SET status = ?, {cleared} WHERE clip_id = ? AND status = ?", (STORING, clip_id, FAILED)
            )
        )


class DynamoReopening:
    """Mixed into ``DynamoLedger``: failed clips from the ``by_status`` index, one guarded UpdateItem each."""

    def in_status(self, status: str, *, device: str = "", since: Optional[datetime] = None) -> list[ClipRow]:
        after = {"op": ">=", "bound": iso(since)} if since is not None else {}  # sk: <submitted_at>|<clip_id>
        return [r for r in self._rows(BY_STATUS, status, **after) if not device or r.device_id == device]

    def reopen(self, clip_id: str) -> bool:
        removed = ", ".join("#error" if column == "error" else column for column in (*_OUTCOME, "finished_day"))
        return self._update(
            clip_id,
            f"SET #s = :new REMOVE {removed}",
            "#s = :old",
            {":new": STORING, ":old": FAILED},
            names={"#error": "error"},
        )
