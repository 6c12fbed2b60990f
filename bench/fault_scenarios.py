"""The faults a Pi and the cloud meet, each played for real on a :class:`FaultRig`.

A scenario breaks one thing and returns a judge: given the :class:`Outcome`
(what became of every clip), it says whether the run shows that the fault
happened (a kill that landed after the job, an overflow that dropped nothing,
prove nothing) and the evidence, in a line. Clips a scenario expects to fail
(the poison clip) are sent with ``fails=True``; any other ``failed`` clip is lost.
"""

from __future__ import annotations

import json
import logging
import re
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from edgecloud.config import Settings

from .fault_rig import FaultRig, Outcome
from .http_framing import Request, http_reply

OUTAGE_S = 20  # how long the AWS endpoint is gone
SPOOL_CLIPS = 3  # the Pi's spool cap in spool-full, in clips; it sends more than that while cut off

Finding = tuple[bool, str]  # fault observed, evidence
Judge = Callable[[Outcome], Finding]


@dataclass(frozen=True)
class Scenario:
    play: Callable[[FaultRig, Path], Judge]
    spool_clips: Optional[float] = None  # the Pi's spool cap, in clips (default: no real cap)
    tune: Optional[Callable[[Settings], None]] = None  # settings of its own, before the rig starts

    @property
    def summary(self) -> str:
        return " ".join((self.play.__doc__ or "").split())


def unobserved(why: str) -> Judge:
    """The judge of a scenario that could not make its fault happen."""
    return lambda outcome: (False, why)


def sends_job(request: Request, queue: str) -> bool:
    """An SQS SendMessage to the queue named ``queue``."""
    return request.headers.get("x-amz-target") == "AmazonSQS.SendMessage" and str(
        request.json().get("QueueUrl", "")
    ).rstrip("/").endswith("/" + queue)


def statuses(outcome: Outcome, ids) -> str:
    return ", ".join(outcome.status(c) or "no result" for c in ids)


def worker_kill(rig: FaultRig, clip: Path) -> Judge:
    """kill -9 a worker mid-job: its job comes back after the visibility timeout and finishes on another worker."""
    ids = rig.send(clip, 3)
    busy: dict = {}

    def someone_processing() -> bool:
        for clip_id in ids:
            body = rig.status(clip_id)
            if body.get("status") == "processing" and body.get("processed_by"):
                busy.update(worker=body["processed_by"], clip=clip_id)
                return True
        return False

    if not rig.wait_for(someone_processing, 90):
        return unobserved("no worker started a job to be killed on")
    if not rig.kill_workers(busy["worker"]):
        return unobserved(f"worker {busy['worker']} was gone before the kill")
    victim, clip_id = busy["worker"], busy["clip"]

    def judge(outcome: Outcome) -> Finding:
        finisher = outcome.finals.get(clip_id, {}).get("processed_by")
        if outcome.status(clip_id) != "done":
            return False, f"killed {victim} on clip {clip_id}, which ended {statuses(outcome, [clip_id])}"
        if finisher == victim:
            return False, f"clip {clip_id} finished on {victim} itself: the kill came after the job"
        return True, f"killed {victim} on clip {clip_id}; the job finished on {finisher}"

    return judge


def controller_kill(rig: FaultRig, clip: Path) -> Judge:
    """kill -9 the controller mid-burst, aimed between storing a clip and queueing its job (the job's SQS send is
    held), then start it again on the same disk: the sweep of stranded uploads must queue that clip."""
    held = rig.aws_link.hold(lambda r: sends_job(r, rig.settings.queues.jobs), skip=2)
    rig.send(clip, 8)
    landed = held.wait_held(90)
    rig.kill_controller()
    held.drop()  # the send dies with the controller that made it
    rig.restart_controller()
    if not landed:
        return unobserved("no job send was caught to aim the kill at; the controller was killed unaimed")
    in_window = json.loads(held.held[0].json().get("MessageBody", "{}")).get("clip_id")

    def judge(outcome: Outcome) -> Finding:
        swept = re.findall(r"clip (\S+) was stored but never queued", rig.controller_log())
        if in_window not in swept:
            return False, f"killed with clip {in_window} stored and its job unsent, but no restart sweep queued it"
        return True, (
            f"killed with clip {in_window} stored and its job unsent; the restart's sweep of stranded "
            f"uploads queued it ({statuses(outcome, [in_window])})"
        )

    return judge


def aws_outage(rig: FaultRig, clip: Path) -> Judge:
    """The AWS endpoint gone for OUTAGE_S seconds mid-burst (its proxy cut: moto keeps its state)."""
    rig.send(clip, 3)
    rig.wait_for(lambda: rig.uploader.uploaded >= 1, 60, every=0.05)
    rig.aws_link.cut()
    during = rig.send(clip, 2)
    time.sleep(OUTAGE_S)  # the outage's length is the fault itself
    refused = rig.aws_link.refused
    rig.aws_link.restore()
    before = rig.aws_link.requests

    def judge(outcome: Outcome) -> Finding:
        after = rig.aws_link.requests - before
        arrived = all(outcome.delivered(c) for c in during)
        return refused > 0 and after > 0 and arrived, (
            f"{refused} connections to AWS refused during the {OUTAGE_S} s cut, {after} requests through after it; "
            f"clips sent during it: {statuses(outcome, during)}"
        )

    return judge


def network_down(rig: FaultRig, clip: Path) -> Judge:
    """The Pi cut off for the whole burst: every clip waits in its spool, then goes."""
    rig.pi_link.cut()
    ids = rig.send(clip, 5)
    tried = rig.wait_for(lambda: rig.pi_link.refused >= 2, 30, every=0.05)  # the uploader failed, backs off
    spooled = len(rig.spool)
    refused = rig.pi_link.refused
    rig.pi_link.restore()

    def judge(outcome: Outcome) -> Finding:
        arrived = sum(outcome.delivered(c) for c in ids)
        return tried and spooled == len(ids) and arrived == len(ids), (
            f"{refused} uploads refused while cut off, {spooled} of {len(ids)} clips spooled; "
            f"after: {arrived} of {len(ids)} done"
        )

    return judge


def poisoned(clip: bytes) -> bytes:
    """``clip`` (an MP4) with its headers intact and its media data garbage: it passes intake's header check
    (an unreadable header is refused with 422 there) and reaches a worker, whose decoder finds no frame."""
    at = 0
    while at + 8 <= len(clip):
        size, kind = struct.unpack(">I4s", clip[at : at + 8])
        if kind == b"mdat" and size > 8:
            garbage = (bytes(range(256)) * (size // 256 + 1))[: size - 8]
            return clip[: at + 8] + garbage + clip[at + size :]
        if size < 8:
            break
        at += size
    raise ValueError("the clip has no MP4 media data box to spoil")


def poison_clip(rig: FaultRig, clip: Path) -> Judge:
    """A clip whose MP4 headers are sound and whose frames are garbage: failed with a reason, once, never a loop."""
    poison = rig.workdir / "poison.mp4"
    poison.write_bytes(poisoned(clip.read_bytes()))
    [bad] = rig.send(poison, 1, fails=True)
    [good] = rig.send(clip, 1)

    def judge(outcome: Outcome) -> Finding:
        takes = len(re.findall(rf"clip {re.escape(bad)} downloaded", rig.worker_log()))
        error = outcome.finals.get(bad, {}).get("error") or ""
        return outcome.status(bad) == "failed" and takes == 1 and outcome.status(good) == "done", (
            f"poison clip {statuses(outcome, [bad])} after {takes} take(s) by a worker ({error}); "
            f"the good clip behind it {statuses(outcome, [good])}"
        )

    return judge


class _Saw409(logging.Handler):
    def __init__(self):
        super().__init__()
        self.seen = threading.Event()

    def emit(self, record):
        if "HTTP 409" in record.getMessage():
            self.seen.set()


REFUSAL = "failed by the fault bench"
S3_REFUSES = http_reply(
    403,
    "Forbidden",
    b"<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
    b"<Message>" + REFUSAL.encode() + b"</Message></Error>",
)


def duplicate_upload_race(rig: FaultRig, clip: Path) -> Judge:
    """The first upload's S3 PUT hangs (only it: the token lookup and SQS flow), the Pi times out and retries
    (409 "in progress"), then S3 fails the first upload; the retry stores the clip, once."""
    held = rig.aws_link.hold(lambda r: r.method == "PUT" and r.target.split("?")[0].endswith(clip.suffix))
    handler = _Saw409()
    uploader_log = logging.getLogger("edgecloud.edge.uploader")
    uploader_log.addHandler(handler)
    try:
        [clip_id] = rig.send(clip, 1)
        stalled = held.wait_held(60)
        overlapped = stalled and handler.seen.wait(60)
    finally:
        uploader_log.removeHandler(handler)
        held.fail(S3_REFUSES)

    def judge(outcome: Outcome) -> Finding:
        if not stalled:
            return False, "the first upload's S3 PUT never came to be held"
        if not overlapped:
            return False, "the first upload's S3 PUT hung, but no retry heard 409 meanwhile"
        refused = REFUSAL in rig.controller_log()
        stored = outcome.stored.count(clip_id)
        return outcome.delivered(clip_id) and refused and stored == 1, (
            f"first upload's S3 PUT held; the Pi's retry heard 409 meanwhile; S3 then "
            f"{'refused the first' if refused else 'did not refuse the first (not in the log)'}; "
            f"the clip stored {stored} time(s), {statuses(outcome, [clip_id])}"
        )

    return judge


def spool_full(rig: FaultRig, clip: Path) -> Judge:
    """The Pi cut off while it records more clips than its spool holds (SPOOL_CLIPS): over the cap the oldest
    clips' video goes, their records stay (the fault as the issue names it) and reach the cloud."""
    rig.pi_link.cut()
    ids = rig.send(clip, SPOOL_CLIPS + 2)
    entries = {c: rig.spool.get(c) for c in ids}
    dropped = [c for c, e in entries.items() if e is None or not e.clip_path.exists()]
    kept = [c for c in dropped if entries[c] is not None]
    rig.expected_failures.update(dropped)  # delivered when their record arrives: the cloud learns of the event
    rig.pi_link.restore()

    def judge(outcome: Outcome) -> Finding:
        if not dropped:
            return False, f"{len(ids)} clips spooled under a cap of {SPOOL_CLIPS}, yet no video was dropped"
        return len(kept) == len(dropped), (
            f"spool over its cap of {SPOOL_CLIPS} clips: video of {len(dropped)} dropped, {len(kept)} of their "
            f"records kept; in the cloud they are: {statuses(outcome, dropped)}"
        )

    return judge


SCENARIOS: dict[str, Scenario] = {
    "worker-kill": Scenario(worker_kill),
    "controller-kill": Scenario(controller_kill),
    "aws-outage": Scenario(aws_outage),
    "network-down": Scenario(network_down),
    "poison-clip": Scenario(poison_clip),
    "duplicate-upload-race": Scenario(duplicate_upload_race),
    "spool-full": Scenario(spool_full, spool_clips=SPOOL_CLIPS),
}
