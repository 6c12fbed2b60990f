"""Faults a hostile client or a careless operator brings, played on a :class:`FaultRig` like the others.

Each leans on a defence the controller or the worker must have (a buffering front, video
limits, quotas on every route, worker readiness); where the defence is missing the
scenario says so, as a fault not shown or clips lost, rather than passing.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections import Counter
from pathlib import Path

from edgecloud.config import Settings
from edgecloud.localcloud import issue_credentials
from edgecloud.protocol.client import ControllerClient
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.states import FINAL

from .fault_rig import DEVICE, FaultRig, Outcome
from .fault_scenarios import Finding, Judge, Scenario, statuses, unobserved

SLOW_HEADERS, SLOW_BODIES, SLOW_HOLD_S = 200, 50, 60  # the issue's attack: 200 + 50 sockets held 60 s
GOOD_P99_S = 2.0
FLOOD_S = 10
FLOODER = "pi-leaked"
TRICKLER = "pi-trickler"  # a leaked token the body tricklers carry
NOT_READY = "not ready, took no job"  # a worker without its detector, as it says so


def _no_workers(settings: Settings) -> None:
    settings.autoscaler.max_workers = 0  # uploads only: the measure's clips would take the cores from it


def slow_clients(rig: FaultRig, clip: Path) -> Judge:
    """200 sockets trickling headers (no token) and 50 trickling bodies (a leaked device token, not the good
    device's) held 60 s, while the device uploads: every upload succeeds, p99 under 2 s, the server closes the
    header tricklers in time and every body trickler it refused; the ones it never closes (nginx has no total
    deadline for a body) are at most controller.connections_per_token, and the figures say how many."""
    from .slow_clients import measure_slow_clients  # the buffering front's own bench

    c = rig.settings.controller
    leaked = issue_credentials(rig.settings, [TRICKLER], operator="bench-trickle-operator")[TRICKLER]
    figures = measure_slow_clients(
        rig.controller.url,
        rig.device_token,
        clip,
        device_id=DEVICE,
        header_sockets=SLOW_HEADERS,
        body_sockets=SLOW_BODIES,
        hold_s=SLOW_HOLD_S,
        client_timeout_s=c.client_timeout_s,
        body_token=leaked,
    )
    rig.figures.update(figures)

    def judge(outcome: Outcome) -> Finding:
        calm, held = figures["without_slow_sockets"], figures["with_slow_sockets"]
        headers, bodies = figures["header_tricklers"], figures["body_tricklers"]
        attacked = held["slow_sockets_open_min"] >= 0.9 * (SLOW_HEADERS + SLOW_BODIES)
        p99 = held["p99_ms"]
        good = held["uploads"] > 0 and held["ok"] == held["uploads"] and p99 is not None and p99 < GOOD_P99_S * 1000
        closed = all(k["closed"] > 0 and k["closed_within_timeout"] == k["closed"] for k in (headers, bodies))
        bounded = bodies["held_whole_hold"] <= c.connections_per_token
        return attacked and good and closed and bounded, (
            f"uploads ok {held['ok']}/{held['uploads']} with >= {held['slow_sockets_open_min']} slow sockets open, "
            f"p99 {p99} ms (without: {calm['ok']}/{calm['uploads']}, p99 {calm['p99_ms']} ms); header tricklers "
            f"closed {headers['closed']} ({headers['closed_within_timeout']} within {c.client_timeout_s:g} s); "
            f"body tricklers refused {bodies['refused']} and closed {bodies['closed']} "
            f"({bodies['closed_within_timeout']} in time), {bodies['held_whole_hold']} never closed "
            f"(cap {c.connections_per_token} a token: no total body deadline in nginx)"
        )

    return judge


def video_bomb(rig: FaultRig, clip: Path) -> Judge:
    """A clip small on the wire and huge to decode (50 frames of 8190x8190) between two good clips: the bomb is
    refused (422) or fails with the limits' reason, and the good clip behind it finishes in normal time."""
    from .bomb import write_bomb_clip  # the limits' own bomb writer

    [before] = rig.send(clip, 1)
    started = time.monotonic()
    rig.wait_for(lambda: rig.status(before).get("status") == "done", 120)
    normal_s = time.monotonic() - started  # the first clip's, a cold worker's boot included
    bomb = write_bomb_clip(rig.workdir / "bomb.mp4", "pixels")
    [bad] = rig.send(bomb, 1, fails=True)
    [after] = rig.send(clip, 1)
    started = time.monotonic()
    rig.wait_for(lambda: rig.status(after).get("status") in FINAL, 300, every=0.5)
    behind_s = time.monotonic() - started
    limit_s = max(2 * normal_s, normal_s + 10)

    def judge(outcome: Outcome) -> Finding:
        why = outcome.refused.get(bad) or outcome.finals.get(bad, {}).get("error") or ""
        stopped = ("422" in why if bad in outcome.refused else outcome.status(bad) == "failed") and "limits." in why
        in_time = outcome.status(after) == "done" and behind_s <= limit_s
        return stopped and in_time, (
            f"bomb {outcome.status(bad) or 'without a result'} ({' '.join(why.split())[:120]}); the good clip "
            f"behind it {statuses(outcome, [after])} in {behind_s:.1f} s (the first clip: {normal_s:.1f} s, normal is "
            f"<= {limit_s:.1f} s)"
        )

    return judge


def _flood(url: str, token: str, until: float, route: str, tally: Counter, lock: threading.Lock) -> None:
    junk = b"\0" * 1024  # refused uploads count against the device too
    with ControllerClient(url, token=token) as controller:
        while time.monotonic() < until:
            try:
                if route == "clips":
                    meta = {"clip_id": new_clip_id(FLOODER), "device_id": FLOODER, "content_type": "video/mp4"}
                    reply = controller.upload(meta, ("c.mp4", junk, "video/mp4"), timeout=10)
                elif route == "frames":
                    reply = controller.frame_upload(FLOODER)
                elif route == "answers":
                    reply = controller.frame_answers(FLOODER)
                else:
                    reply = controller.status(new_clip_id(FLOODER))
                code = reply.status_code
            except Exception:  # noqa: BLE001 - counted, whatever it was
                code = "error"
            with lock:
                tally[(route, code)] += 1


def quota_flood(rig: FaultRig, clip: Path) -> Judge:
    """A leaked device token floods every route (clip uploads, frame grants, answers, status) for FLOOD_S
    seconds while the good device uploads: the flooder hears 429 on each route, the good device never does."""
    token = issue_credentials(rig.settings, [FLOODER], operator="bench-flood-operator")[FLOODER]
    over_quota = _Matches("over quota")
    uploader_log = logging.getLogger("edgecloud.edge.uploader")
    uploader_log.addHandler(over_quota)
    tally: Counter = Counter()
    lock = threading.Lock()
    until = time.monotonic() + FLOOD_S
    routes = ("clips", "frames", "answers", "status")
    flooders = [
        threading.Thread(target=_flood, args=(rig.controller.url, token, until, route, tally, lock)) for route in routes
    ]
    try:
        for thread in flooders:
            thread.start()
        ids = rig.send(clip, 3)
        for thread in flooders:
            thread.join()
        rig.uploader.wait_drained(60)
    finally:
        uploader_log.removeHandler(over_quota)

    def judge(outcome: Outcome) -> Finding:
        per_route = {r: (sum(n for (route, _), n in tally.items() if route == r), tally[(r, 429)]) for r in routes}
        throttled = all(n429 > 0 for _, n429 in per_route.values())
        good = all(outcome.status(c) == "done" for c in ids) and not over_quota.count
        return throttled and good, (
            "flooder's 429s per route: "
            + ", ".join(f"{r} {n429}/{n}" for r, (n, n429) in per_route.items())
            + f"; the good device's clips {statuses(outcome, ids)}, 429s it heard: {over_quota.count}"
        )

    return judge


class _Matches(logging.Handler):
    def __init__(self, text: str):
        super().__init__()
        self.text = text
        self.count = 0

    def emit(self, record):
        if self.text in record.getMessage():
            self.count += 1


def _model_missing(settings: Settings) -> None:
    settings.detector.name = "darknet:yolov3-tiny"
    settings.detector.weights = Path(settings.controller.data_dir).parent / "models" / "yolov3-tiny.weights"


def misconfigured_worker(rig: FaultRig, clip: Path) -> Judge:
    """Workers start without their model's weights: they must take no job (no clip ends failed); once the model
    is in place, the next worker the fleet starts does every clip."""
    from edgecloud.detect import darknet_files

    missing = Path(rig.settings.detector.weights)
    ids = rig.send(clip, 3)
    if not rig.wait_for(lambda: str(missing) in rig.worker_log(), 90, every=0.5):
        return unobserved("no worker started with the model missing")
    # What a worker without its model does: says it is not ready and leaves, or fails the clips it takes.
    rig.wait_for(
        lambda: NOT_READY in rig.worker_log() or any(rig.status(c).get("status") == "failed" for c in ids),
        60,
        every=0.5,
    )
    early = {c: rig.status(c).get("status") for c in ids}
    refusals = rig.worker_log().count(NOT_READY)
    real, _ = darknet_files.resolve("yolov3-tiny", None, None, rig.base.detector.cache_dir)
    missing.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(real, missing)  # the operator installs the model

    def judge(outcome: Outcome) -> Finding:
        failed_early = [c for c, s in early.items() if s == "failed"]
        done = all(outcome.status(c) == "done" for c in ids)
        return refusals > 0 and not failed_early and done, (
            f"{refusals} worker(s) without the model ({missing.name}) said not ready and took no job; the clips "
            f"meanwhile: {', '.join(str(s) for s in early.values())}; once the model was there: "
            f"{statuses(outcome, ids)}"
        )

    return judge


SCENARIOS: dict[str, Scenario] = {
    "slow-clients": Scenario(slow_clients, tune=_no_workers),
    "video-bomb": Scenario(video_bomb),
    "quota-flood": Scenario(quota_flood),
    "misconfigured-worker": Scenario(misconfigured_worker, tune=_model_missing),
}
