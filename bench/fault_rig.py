"""The processes one fault scenario runs against, with a handle on each link to break.

moto server -> TCP proxy (the "AWS endpoint", cut for an outage) -> controller
(gunicorn, its own process, with local worker processes) -> TCP proxy (the Pi's
network) -> the Pi's spool and uploader, the same classes the edge agent runs.
Clips go into the spool as the agent puts a clip it placed in the cloud.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from edgecloud.aws import Aws
from edgecloud.clock import utcnow
from edgecloud.config import Settings
from edgecloud.edge.session import session_factory
from edgecloud.edge.spool import Spool
from edgecloud.edge.uploader import Uploader
from edgecloud.localcloud import OPERATOR, ControllerProcess, EmbeddedAws, demo_settings, issue_credentials, write_token
from edgecloud.protocol.client import ControllerClient
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.states import FINAL
from edgecloud.provision import ensure_resources

from .proxy import TcpProxy

DEVICE = "pi-bench"


def fault_settings(base: Settings, *, workdir: Path, endpoint_url: str, video: Path) -> Settings:
    """The demo's settings, with timings short enough that each fault plays out in seconds."""
    s = demo_settings(base, video=video, workdir=workdir, endpoint_url=endpoint_url, policy="busy-offload", speed=20)
    s.edge.device_id = DEVICE
    s.edge.upload_timeout_s = 3
    s.edge.retry_max_s = 2
    s.queues.visibility_timeout = 10  # a killed worker's job comes back this soon
    s.worker.heartbeat_seconds = 3
    return s


@dataclass
class Outcome:
    """What became of the clips a scenario sent. A clip is lost unless it ended ``done``, or the
    scenario expected it not to (``expected_failures``: failed, refused by the controller for good, or
    its video dropped) and it did so: a ``failed`` clip the scenario did not expect is no delivery."""

    sent: list[str]
    finals: dict[str, dict]  # clip id -> its final status body
    expected_failures: set[str] = field(default_factory=set)
    stored: list[str] = field(default_factory=list)  # clip ids, once per "stored" line of the controller's log
    spooled: int = 0
    refused: dict[str, str] = field(default_factory=dict)  # clip id -> why the controller refused it for good

    def status(self, clip_id: str) -> Optional[str]:
        if clip_id in self.refused:
            return "refused"
        return self.finals.get(clip_id, {}).get("status")

    def delivered(self, clip_id: str) -> bool:
        status = self.status(clip_id)
        return status == "done" or (status is not None and clip_id in self.expected_failures)

    def row(self) -> dict:
        return {
            "clips": len(self.sent),
            "results": len(self.finals),
            "lost": sum(1 for c in self.sent if not self.delivered(c)),
            "duplicated": sum(1 for c in set(self.stored) if self.stored.count(c) > 1),
            "failed": sorted({b.get("error") or "" for b in self.finals.values() if b["status"] == "failed"}),
            "spooled": self.spooled,
        }


class FaultRig:
    """Start with ``with FaultRig(...) as rig``; ``send`` clips, break links, ``outcome`` counts.

    ``tune`` changes the settings before anything starts (a scenario's own limits or quotas)."""

    def __init__(
        self,
        base: Settings,
        workdir: Path,
        video: Path,
        *,
        spool_max_bytes: int = 10**9,
        tune: Optional[Callable[[Settings], None]] = None,
    ):
        self.workdir = Path(workdir)
        self.video = video
        self.base = base
        self.spool_max_bytes = spool_max_bytes
        self.tune = tune
        self.sent: list[str] = []
        self.expected_failures: set[str] = set()
        self.figures: dict = {}  # what a scenario measured, for its row

    def __enter__(self) -> "FaultRig":
        self.moto = EmbeddedAws().__enter__()
        self.aws_link = TcpProxy(self.moto.endpoint_url)
        self.settings = fault_settings(
            self.base, workdir=self.workdir, endpoint_url=self.aws_link.url, video=self.video
        )
        if self.tune is not None:
            self.tune(self.settings)
        ensure_resources(Aws(self.settings.aws), self.settings)
        tokens = issue_credentials(self.settings, [DEVICE])  # the Pi's, and an operator's to count results
        self.device_token = tokens[DEVICE]
        self.settings.edge.token_file = write_token(self.workdir / "device.token", self.device_token)
        self.controller = ControllerProcess(self.settings, self.workdir)
        self.controller.start()
        self.operator = ControllerClient(self.controller.url, token=tokens[OPERATOR])
        self.pi_link = TcpProxy(self.controller.url)
        self.spool = Spool(self.settings.edge.spool_dir, self.spool_max_bytes)
        edge = self.settings.edge
        self.uploader = Uploader(
            self.spool,
            self.pi_link.url,
            timeout_s=edge.upload_timeout_s,
            retry_max_s=edge.retry_max_s,
            retry_base_s=0.2,
            session_factory=session_factory(edge),
        ).start()
        return self

    def __exit__(self, *exc) -> None:
        self.uploader.close()
        self.controller.close(timeout=10)
        self.kill_workers()
        self.pi_link.close()
        self.aws_link.close()
        self.moto.close()
        self.operator.close()

    # --- the Pi -----------------------------------------------------------------
    def send(self, clip: Path, n: int = 1, *, fails: bool = False) -> list[str]:
        """Spool ``n`` copies of ``clip`` for the cloud, as the agent does; returns their ids.
        ``fails``: the scenario expects these clips not to end ``done`` (not lost when they fail)."""
        ids = []
        for _ in range(n):
            clip_id = new_clip_id(DEVICE)
            copy = self.workdir / f"{clip_id}{clip.suffix}"
            shutil.copyfile(clip, copy)
            content_type = {".mp4": "video/mp4", ".h264": "video/h264", ".avi": "video/x-msvideo"}[clip.suffix]
            self.spool.put(
                copy,
                {
                    "clip_id": clip_id,
                    "device_id": DEVICE,
                    "recorded_at": utcnow().isoformat(),
                    "fps": 10.0,
                    "content_type": content_type,
                },
                stage="ready",
                placement="cloud",
            )
            ids.append(clip_id)
        self.sent += ids
        if fails:
            self.expected_failures.update(ids)
        self.uploader.wake()
        return ids

    # --- the controller and its workers -------------------------------------------
    def kill_controller(self) -> None:
        self.controller.kill()

    def restart_controller(self) -> None:
        self.controller = ControllerProcess(self.settings, self.workdir)
        self.pi_link.retarget(self.controller.start())
        self.operator.url = self.controller.url  # results are counted by asking the controller now running

    def worker_pids(self) -> dict[str, int]:
        """Worker processes of this rig, by instance id (found by the config file they were given)."""
        found = {}
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                env = (proc / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            values = dict(e.decode(errors="replace").split("=", 1) for e in env if b"=" in e)
            if values.get("EDGECLOUD_CONFIG", "").startswith(str(self.workdir)) and values.get(
                "EDGECLOUD_WORKER__INSTANCE_ID"
            ):
                found[values["EDGECLOUD_WORKER__INSTANCE_ID"]] = int(proc.name)
        return found

    def kill_workers(self, instance_id: Optional[str] = None) -> int:
        killed = 0
        for found, pid in self.worker_pids().items():
            if instance_id in (None, found):
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
        return killed

    def worker_log(self) -> str:
        """Every local worker's log of this rig, one after another."""
        workers = Path(self.settings.controller.data_dir) / "workers"
        return "".join(p.read_text(errors="replace") for p in sorted(workers.glob("*.log")))

    def controller_log(self) -> str:
        """The controller's output, every start of it (restarts append)."""
        path = self.workdir / "controller.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # --- what became of the clips -------------------------------------------------
    def status(self, clip_id: str, wait: float = 0) -> dict:
        return self.operator.status_body(clip_id, wait)

    def wait_for(self, predicate, timeout: float, every: float = 0.2) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate():
                return True
            time.sleep(every)
        return False

    def outcome(self, timeout: float) -> Outcome:
        """What became of every clip sent, once each has a final result or ``timeout`` passed."""
        deadline = time.monotonic() + timeout
        drained = self.uploader.wait_drained(timeout)
        finals: dict[str, dict] = {}
        for clip_id in self.sent:
            while clip_id not in finals:
                left = deadline - time.monotonic()
                body = self.status(clip_id, wait=max(0, min(10, left)))
                if body.get("status") in FINAL:
                    finals[clip_id] = body
                elif left <= 0 or (drained and body.get("http") == 404 and self.spool.get(clip_id) is None):
                    break  # out of time, or never to arrive: the Pi no longer has it and the cloud never had
                elif body.get("status") == "unknown":
                    time.sleep(0.5)
        return Outcome(
            list(self.sent),
            finals,
            set(self.expected_failures),
            re.findall(r"clip (\S+) stored \(", self.controller_log()),
            len(self.spool),
            self.refused(),
        )

    def refused(self) -> dict[str, str]:
        """Clips the controller refused for good (the Pi set them aside): id -> why."""
        found = {}
        for manifest in self.spool.rejected_dir.glob("*/manifest.json"):
            found[manifest.parent.name] = json.loads(manifest.read_text()).get("rejected", "")
        return found
