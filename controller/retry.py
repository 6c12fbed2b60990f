"""``POST /v1/clips/retry`` (operators): send clips that failed through again, on the API's blueprint.

For a clip that failed for a reason that was not its own (a worker with no model, an
outage that outlasted its tries). Each failed clip the filters pick, whose video is
still stored: its failed result is set aside (``ResultStore.set_aside``: the next result
replaces it), its ledger row reopened (failed -> storing, one guarded write) and its
job sent as an upload's is (``Intake.resume``: -> queued). Idempotent: a clip re-queued
and not yet final is not failed, so a second call passes it by; of two calls racing,
only the one that reopens a clip queues it. The answer names what was re-queued.
"""

from __future__ import annotations

import logging
from datetime import datetime, timezone
from typing import Literal, Optional

from flask import jsonify, request
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edgecloud.protocol.ids import check_device_id

from . import auth
from .api import bp
from .errors import Refused
from .intake import Intake
from .ledger_reopen import FAILED
from .resources import get_ledger, get_metrics, get_store
from .upload_form import pydantic_message

log = logging.getLogger(__name__)


class RetryRequest(BaseModel):
    """The body of POST /v1/clips/retry (every field optional: no body re-queues every failed clip)."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["failed"] = Field("failed", description="Which clips: those that ended failed.")
    device: Optional[str] = Field(None, description="Only this device's clips.")
    since: Optional[datetime] = Field(
        None, description="Only clips submitted at or after this time (ISO 8601; without a zone, UTC)."
    )

    @field_validator("device")
    @classmethod
    def _device(cls, v: Optional[str]) -> Optional[str]:
        return v if v is None else check_device_id(v)

    @field_validator("since")
    @classmethod
    def _utc(cls, v: Optional[datetime]) -> Optional[datetime]:
        if v is None:
            return None
        try:
            return v.astimezone(timezone.utc) if v.tzinfo else v.replace(tzinfo=timezone.utc)
        except OverflowError:
            raise ValueError("out of range") from None


class Requeued(BaseModel):
    """200 to POST /v1/clips/retry: how many clips went back to the queue, and which."""

    requeued: int
    clip_ids: list[str]


def requeue_failed(intake: Intake, *, device: str = "", since: Optional[datetime] = None) -> list[str]:
    """Send the failed clips of ``device`` submitted since ``since`` through again; their ids."""
    requeued = []
    for row in intake.ledger.in_status(FAILED, device=device, since=since):
        found = intake.store.find_clip(row.clip_id)
        if found is None:
            log.warning("clip %s failed and its video is gone: nothing to send again", row.clip_id)
            continue
        if not intake.store.results.set_aside(row.clip_id):
            continue  # a result that is not failed stands (the ledger has yet to hear of it)
        if not intake.ledger.reopen(row.clip_id):
            continue  # another retry reopened it first, and queues it
        status = intake.resume(row, *found)
        log.info("clip %s (failed: %s) sent through again: %s", row.clip_id, row.error, status)
        requeued.append(row.clip_id)
    return requeued


@bp.post("/v1/clips/retry")
def retry_clips():
    if not auth.principal().is_operator:
        raise Refused("only operators send clips through again", 403)
    try:
        asked = RetryRequest.model_validate_json(request.get_data() or b"{}")
    except ValidationError as err:
        raise Refused(f"bad retry request: {pydantic_message(err)}") from None
    intake = Intake(get_store(), get_ledger(), get_metrics())
    clip_ids = requeue_failed(intake, device=asked.device or "", since=asked.since)
    return jsonify(Requeued(requeued=len(clip_ids), clip_ids=clip_ids).model_dump())
