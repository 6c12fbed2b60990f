"""Workers as processes on this machine, each registered as an instance in the
embedded EC2 first, so it retires through the same TerminateInstances call a
real worker makes and the counts come from EC2 exactly as on AWS."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Optional, Sequence

from edgecloud.aws import Aws
from edgecloud.config import Settings, dump

from .base import Fleet, describe_workers, tag_specifications

log = logging.getLogger(__name__)

# `python -m edgecloud.cli` would load the CLI module twice (as __main__ too); call main() instead.
WORKER_COMMAND = (sys.executable, "-c", "from edgecloud.cli import main; main()", "worker", "run")
STOP_TIMEOUT_S = 10.0
HAND_BACK_TIMEOUT_S = 5.0


class LocalFleet(Fleet):
    """Spawns ``edgecloud worker run`` children; ``close()`` stops them (TERM, wait, KILL)."""

    backend = "local"

    def __init__(self, settings: Settings, aws: Aws, *, command: Optional[Sequence[str]] = None):
        super().__init__(settings, aws)
        self.command = list(command or WORKER_COMMAND)
        self.dir = Path(settings.controller.data_dir) / "workers"
        self._children: dict[str, subprocess.Popen] = {}
        self._lock = threading.Lock()
        self._ami: Optional[str] = settings.fleet.ami_id
        self.launched_total = 0

    @property
    def config_path(self) -> Path:
        return self.dir / "worker-config.yaml"

    def _image_id(self) -> str:
        if not self._ami:
            images = (
                self.aws.ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["amzn2-ami-*"]}])[
                    "Images"
                ]
                or self.aws.ec2.describe_images(Owners=["amazon"])["Images"]
            )
            if not images:
                raise RuntimeError("no AMI known to this EC2 endpoint; set fleet.ami_id")
            self._ami = images[0]["ImageId"]
        return self._ami

    def launch(self, n: int) -> list[str]:
        if n <= 0:
            return []
        self.dir.mkdir(parents=True, exist_ok=True)
        self.config_path.write_text(dump(self.settings))
        reply = self.aws.ec2.run_instances(
            ImageId=self._image_id(),
            InstanceType=self.settings.fleet.instance_type,
            MinCount=n,
            MaxCount=n,
            TagSpecifications=tag_specifications(self.name, ("instance",)),
            MetadataOptions={"HttpTokens": "required", "HttpEndpoint": "enabled"},
        )
        ids = [i["InstanceId"] for i in reply["Instances"]]
        for instance_id in ids:
            self._spawn(instance_id)
        self.launched_total += len(ids)
        return ids

    def _spawn(self, instance_id: str) -> None:
        env = dict(os.environ)
        env["EDGECLOUD_CONFIG"] = str(self.config_path)
        env["EDGECLOUD_WORKER__INSTANCE_ID"] = instance_id
        env["PYTHONUNBUFFERED"] = "1"  # its log file shows each line as it happens
        if self.settings.aws.endpoint_url:
            env["EDGECLOUD_AWS__ENDPOINT_URL"] = self.settings.aws.endpoint_url
        with open(self.dir / f"{instance_id}.log", "ab") as logfile:
            # Own session: a Ctrl-C at the controller's terminal must not hit workers mid-job.
            child = subprocess.Popen(
                self.command,
                env=env,
                stdout=logfile,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        with self._lock:
            self._children[instance_id] = child
        log.info("worker %s started (pid %d, log %s)", instance_id, child.pid, logfile.name)

    def reap(self) -> dict[str, int]:
        """Forget exited children; an instance whose process died without retiring is terminated."""
        with self._lock:
            exited = {i: c.returncode for i, c in self._children.items() if c.poll() is not None}
            for instance_id in exited:
                del self._children[instance_id]
        if exited:
            live = describe_workers(self.aws, self.name)
            orphans = [i for i in exited if i in live]
            if orphans:
                self.aws.ec2.terminate_instances(InstanceIds=orphans)
            for instance_id, code in exited.items():
                log.info(
                    "worker %s exited with %s%s",
                    instance_id,
                    code,
                    " (instance terminated for it)" if instance_id in orphans else "",
                )
        return exited

    def states(self) -> dict[str, int]:
        self.reap()
        counts = {"pending": 0, "running": 0}
        for state in describe_workers(self.aws, self.name).values():
            counts[state] += 1
        return counts

    def ids(self) -> list[str]:
        self.reap()
        return sorted(describe_workers(self.aws, self.name))

    def processes(self) -> dict[str, subprocess.Popen]:
        """Children still running, by instance id."""
        with self._lock:
            return {i: c for i, c in self._children.items() if c.poll() is None}

    def close(self, timeout: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every child (each finishes its job), wait; SIGTERM again (each hands its job
        back), then kill stragglers."""
        with self._lock:
            children = dict(self._children)
        for child in children.values():
            if child.poll() is None:
                child.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for instance_id, child in children.items():
            try:
                child.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                # Still on a job: a second TERM hands it back to the queue, where a kill would
                # leave it hidden for the rest of its visibility timeout.
                log.warning("worker %s did not stop in %.0f s; asking it to hand its job back", instance_id, timeout)
                child.send_signal(signal.SIGTERM)
                try:
                    child.wait(HAND_BACK_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    log.warning("worker %s still running; killing it", instance_id)
                    child.kill()
                    child.wait()
        try:
            self.reap()
        except Exception:  # the endpoint may be gone already at shutdown
            log.warning("could not reconcile worker instances at close", exc_info=True)
