"""The clip ledger in DynamoDB (``tables.clips``): any number of controllers share it.

Same interface as the SQLite ``Ledger`` (``controller.ledger: dynamodb`` picks
this one), so the API, dashboard, intake, quotas, reconcile and scaling code
read and write clips the same way whichever controller took the upload.

Writes two controllers could race are conditional, as the SQLite ledger's
guarded UPDATEs are: a clip is added once (``attribute_not_exists``), moves
storing -> queued -> processing only forward, and its first final state wins.
Reads of one clip are strongly consistent (an upload to A, then a GET on B).

Waking a ``?wait=``: this process's own writes notify its waiters at once; a
completion another controller consumed is seen by the poller of
``ledger_dynamo_poll``.

Costs per clip: add = 1 PutItem + 1 UpdateItem (the device's last upload);
mark_queued / mark_started = 1 conditional UpdateItem; mark_finished = 1
GetItem (the submission time, for the latency) + 1 conditional UpdateItem;
get = 1 strongly consistent GetItem; a clip final without its video (the Pi
dropped it) + 1 UpdateItem, the count ``videos_dropped`` reads with 1 GetItem.
Queries: see ``ledger_dynamo_queries``.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws, error_code
from edgecloud.config import ConfigError
from edgecloud.protocol.messages import Result
from edgecloud.protocol.states import FINAL, ClipStatus

from .clip_row import ClipRow, iso
from .event_store import NotesEvents
from .ledger import Ledger
from .ledger_dynamo_poll import PolledWaits
from .ledger_dynamo_queries import DEVICE, HISTORY, ClipQueries, as_row, attrs
from .ledger_reopen import DynamoReopening
from .ledger_waits import FinalWaits

VIDEOS_DROPPED = "#videos-dropped"  # the item counting clips final without their video


class DynamoLedger(NotesEvents, ClipQueries, DynamoReopening, PolledWaits, FinalWaits):
    """The shared clip table; ``poll_s``: how often waited clips are re-read while anyone waits."""

    def __init__(self, aws: Aws, table: str):
        self.aws = aws
        self.table = table
        try:
            # A GetItem the controller's role grants anyway (DescribeTable it does not need).
            aws.dynamodb.get_item(TableName=table, Key={"clip_id": {"S": HISTORY}})
        except ClientError as err:
            if error_code(err) != "ResourceNotFoundException":
                raise
            raise ConfigError(
                f"bad setting: tables.clips: no DynamoDB table {table!r} (the stack makes it, "
                "as does `edgecloud controller serve --ensure-resources`)"
            ) from None
        self._init_waits()
        self._init_polling()
        self._first_known: Optional[datetime] = None  # the history marker holds this or older

    # -- writes ------------------------------------------------------------------------

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
        submitted = iso(submitted_at)
        item = {
            "clip_id": clip_id,
            "device_id": device_id,
            "status": status,
            "submitted_at": submitted,
            "sk": f"{submitted}|{clip_id}",
            "submitted_day": submitted[:10],
            "processed_by": processed_by,
            "error": error,
            "video_dropped": 1 if video_dropped else None,
            **_finished(finished_at),
        }
        if finished_at:
            item["upload_to_result_s"] = (finished_at - submitted_at).total_seconds()
        try:
            self.aws.dynamodb.put_item(
                TableName=self.table, Item=attrs(item), ConditionExpression="attribute_not_exists(clip_id)"
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            return False
        self._notify([clip_id])
        self._note_upload(device_id, submitted_at)
        if video_dropped and status in FINAL:
            self._count_video_dropped()
        return True

    def _count_video_dropped(self) -> None:
        """One more clip final without its video: a counter item (no index holds it), as no query could count."""
        self.aws.dynamodb.update_item(
            TableName=self.table,
            Key={"clip_id": {"S": VIDEOS_DROPPED}},
            UpdateExpression="ADD n :one",
            ExpressionAttributeValues={":one": {"N": "1"}},
        )

    def videos_dropped(self) -> int:
        item = self.aws.dynamodb.get_item(
            TableName=self.table, Key={"clip_id": {"S": VIDEOS_DROPPED}}, ConsistentRead=True
        ).get("Item")
        return int(item["n"]["N"]) if item else 0

    def _note_upload(self, device_id: str, submitted_at: datetime) -> None:
        """Keep the device's marker (its last upload) and the history marker (the oldest) current."""
        at = iso(submitted_at)
        self._update(
            f"{DEVICE}#{device_id}",
            "SET #s = :kind, sk = :at, device = :device",
            "attribute_not_exists(sk) OR sk < :at",
            {":kind": DEVICE, ":at": at, ":device": device_id},
        )
        if self._first_known is None or submitted_at < self._first_known:
            self._update(HISTORY, "SET first_at = :at", "attribute_not_exists(first_at) OR first_at > :at", {":at": at})
            self._first_known = submitted_at  # stored now, or an older one already was

    def forget(self, clip_id: str) -> None:
        """Drop a clip whose upload failed half-way, so the edge's retry is not a 'duplicate'."""
        try:  # only while still storing: a row another controller has moved on since is kept
            self.aws.dynamodb.delete_item(
                TableName=self.table,
                Key={"clip_id": {"S": clip_id}},
                ConditionExpression="#s = :storing",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues={":storing": {"S": ClipStatus.STORING}},
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            return
        self._notify([clip_id])

    def mark_queued(self, clip_id: str) -> bool:
        """The clip's job is sent: a storing row becomes queued."""
        return self._update(clip_id, "SET #s = :new", "#s = :old", {":new": "queued", ":old": ClipStatus.STORING})

    def mark_started(self, clip_id: str, at: datetime, processed_by: str) -> bool:
        # A late 'started' must never move a finished clip backwards.
        return self._update(
            clip_id,
            "SET #s = :new, started_at = :at, processed_by = :by",
            "#s = :old",
            {":new": "processing", ":old": "queued", ":at": iso(at), ":by": processed_by},
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
        """Final state of a clip; latency is measured from its submission. First final state wins,
        whichever controller writes it. With its ``result``, label counts and the snapshot's key."""
        if status not in FINAL:
            raise ValueError(f"not a final status: {status!r}")
        row = self.get(clip_id)
        if row is None or row.final:
            return False
        self._note_event(result)
        values = {
            ":new": status,
            ":latency": round((at - row.submitted_at).total_seconds(), 3),
            ":by": processed_by,
            ":process_s": process_s,
            ":error": error,
            ":counts": json.dumps({k: v.max_count for k, v in result.summary.items()}) if result else None,
            ":snapshot": result and result.snapshot_key,
            **{f":{k}": v for k, v in _finished(at).items()},
            **{f":final{n}": f for n, f in enumerate(FINAL)},
        }
        columns = {
            "#s": ":new",
            "finished_at": ":finished_at",
            "finished_day": ":finished_day",
            "upload_to_result_s": ":latency",
            "processed_by": ":by",
            "process_s": ":process_s",
            "#error": ":error",
            "label_counts": ":counts",
            "snapshot_key": ":snapshot",
        }
        kept = ("processed_by", "process_s")  # unchanged when not given, as the SQLite ledger's COALESCE
        sets = [f"{c} = {v}" for c, v in columns.items() if values[v] is not None]
        removes = [c for c, v in columns.items() if values[v] is None and c not in kept]
        expression = "SET " + ", ".join(sets) + (" REMOVE " + ", ".join(removes) if removes else "")
        finals = ", ".join(f":final{n}" for n in range(len(FINAL)))
        finished = self._update(
            clip_id,
            expression,
            f"attribute_exists(clip_id) AND NOT (#s IN ({finals}))",
            {k: v for k, v in values.items() if v is not None},
            names={"#error": "error"},
        )
        if finished and row.video_dropped:
            self._count_video_dropped()
        return finished

    def _update(self, key: str, expression: str, condition: str, values: dict, *, names: Optional[dict] = None) -> bool:
        """One conditional UpdateItem; False when the condition did not hold."""
        names = {**({"#s": "status"} if "#s" in expression + condition else {}), **(names or {})}
        try:
            self.aws.dynamodb.update_item(
                TableName=self.table,
                Key={"clip_id": {"S": key}},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=attrs(values),
                **({"ExpressionAttributeNames": names} if names else {}),
            )
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
            return False
        self._notify([key])  # only this clip's waiters re-read
        return True

    # -- reads and waits ---------------------------------------------------------------

    def get(self, clip_id: str) -> Optional[ClipRow]:
        item = self.aws.dynamodb.get_item(
            TableName=self.table, Key={"clip_id": {"S": clip_id}}, ConsistentRead=True
        ).get("Item")
        return as_row(item) if item else None

    medians = Ledger.medians  # from recent_cloud, the same arithmetic

    def close(self) -> None:
        self._stop_polling()

    def __repr__(self) -> str:
        return f"<DynamoLedger {self.table}>"


def _finished(at: Optional[datetime]) -> dict:
    return {"finished_at": iso(at), "finished_day": iso(at)[:10]} if at else {}
