"""Run the cloud side on this machine: an embedded AWS (moto) and a controller process.

Used by ``edgecloud demo``, the benches and the cross-process tests, so all exercise the
same path a deployment does: a real WSGI server in its own process, workers
in their own processes, every AWS call over HTTP to one shared endpoint.
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from edgecloud.config import Settings, dump
from edgecloud.loops import StartClose

log = logging.getLogger(__name__)


def local_cloud_settings(base: Settings, *, workdir: Path, endpoint_url: str, idle_timeout: float) -> Settings:
    """The base settings for a cloud on this machine: the embedded AWS, local worker
    processes, and timings short enough that a run ends in seconds, not minutes."""
    s = base.model_copy(deep=True)
    s.aws.endpoint_url = endpoint_url
    s.fleet.backend = "local"
    s.controller.port = 0
    s.controller.data_dir = Path(workdir) / "controller"
    s.worker.instance_id = None
    s.worker.idle_timeout = min(s.worker.idle_timeout, idle_timeout)
    s.worker.wait_seconds = min(s.worker.wait_seconds, 2)
    s.autoscaler.interval = min(s.autoscaler.interval, 1)
    s.autoscaler.boot_time_s = min(s.autoscaler.boot_time_s, 3)
    s.autoscaler.target_latency_s = min(s.autoscaler.target_latency_s, 10)
    # Workers stay while the recent rate wants them, then an ask or the idle timer ends them:
    # judge the rate over no longer than a worker may idle, or the fleet relaunches (flaps).
    s.autoscaler.rate_window_s = min(s.autoscaler.rate_window_s, s.worker.idle_timeout)
    return s


OPERATOR = "local"


def demo_settings(
    base: Settings,
    *,
    video: Path,
    workdir: Path,
    endpoint_url: str,
    policy: str,
    speed: float,
    pi_slowdown: float = 1.0,
) -> Settings:
    """The base settings, tuned so a demo finishes in under a minute on a laptop."""
    s = local_cloud_settings(base, workdir=workdir, endpoint_url=endpoint_url, idle_timeout=8)
    s.edge.camera = "file"
    s.edge.video = video
    s.edge.policy = policy
    s.edge.playback_speed = speed
    s.edge.spool_dir = workdir / "spool"
    s.edge.cooldown_seconds = 0.5
    s.edge.emulated_pi_slowdown = pi_slowdown
    return s


def issue_credentials(settings: Settings, device_ids, *, operator: str = OPERATOR) -> dict[str, str]:
    """Tokens for ``device_ids`` and an operator, made afresh in the credentials table (an old
    credential of the same name is revoked first): {name: token}, the operator's under its name."""
    from edgecloud.aws import Aws
    from edgecloud.credentials import CredentialError, Registry, ensure_table

    aws = Aws(settings.aws)
    ensure_table(aws, settings.tables.credentials)
    registry = Registry(aws, settings.tables.credentials)
    tokens = {}
    for kind, name in [("device", d) for d in device_ids] + [("operator", operator)]:
        try:
            registry.revoke(kind, name)
        except CredentialError:
            pass  # not there yet: the usual case
        tokens[name] = registry.add(kind, name)
    return tokens


def write_token(path: Path, token: str) -> Path:
    """A token file only its owner reads (as ``edgecloud edge install`` writes one for the agent)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    return path


MOTO_READY = "moto listening on "


def await_line(proc: subprocess.Popen, lines: "queue.Queue[str]", marker: str, timeout: float) -> str | None:
    """What follows ``marker`` on the first line of a child's output that has it (``lines`` is fed by
    a thread reading its stdout); None when the child exits or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=0.2)
        except queue.Empty:
            if proc.poll() is not None:
                return None
            continue
        if marker in line:
            return line.split(marker, 1)[1].strip()
    return None


class EmbeddedAws(StartClose):
    """A moto server on 127.0.0.1 and a free port, shared by every process of a run.

    ``own_process``: moto runs in a child process rather than in a thread of this one, so its
    CPU (every S3 put, SQS send, DynamoDB update of the run) does not contend for this
    process's GIL, as AWS is not on the caller's cores in a deployment. The child ends when
    this process closes it, or when its stdin closes (this process died)."""

    def __init__(self, *, own_process: bool = False):
        self.own_process = own_process
        self._server = None
        self._proc: subprocess.Popen | None = None
        self.endpoint_url: str | None = None

    def start(self, timeout: float = 60) -> str:
        if self.own_process:
            self.endpoint_url = self._start_process(timeout)
            return self.endpoint_url
        self._server, self.endpoint_url = _threaded_moto()
        return self.endpoint_url

    def _start_process(self, timeout: float) -> str:
        cmd = [sys.executable, "-c", "from edgecloud.localcloud import serve_moto; serve_moto()"]
        self._proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        lines: queue.Queue[str] = queue.Queue()
        threading.Thread(
            target=lambda: [lines.put(line) for line in self._proc.stdout], daemon=True, name="moto-out"
        ).start()
        endpoint = await_line(self._proc, lines, MOTO_READY, timeout)
        if endpoint:
            return endpoint
        self.close()
        raise RuntimeError("the moto server process did not start")

    @property
    def pid(self) -> int:
        """The process serving AWS: the child's, or this one's when moto runs in a thread here."""
        return self._proc.pid if self._proc is not None else os.getpid()

    def close(self):
        if self._server is not None:
            self._server.stop()
            self._server = None
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.stdin.close()  # the child's cue to stop
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def __repr__(self):
        return f"<EmbeddedAws {self.endpoint_url or 'stopped'}>"


def _threaded_moto():
    from moto.server import ThreadedMotoServer

    # moto's server logs every request through werkzeug; that drowns the run's own output.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return server, f"http://{host}:{port}"


def serve_moto() -> None:
    """The child of ``EmbeddedAws(own_process=True)``: serve until stdin closes."""
    server, url = _threaded_moto()
    print(MOTO_READY + url, flush=True)
    sys.stdin.read()
    server.stop()


class ControllerProcess(StartClose):
    """``edgecloud controller serve`` in a child process; ``url`` once it listens.

    The child gets the settings as a config file, so it is configured exactly
    as a controller on EC2 would be.
    """

    READY_PREFIX = "controller listening on "

    def __init__(
        self, settings: Settings, workdir: Path, *, ensure_resources: bool = False, log_path: Path | None = None
    ):
        self.settings = settings
        self.workdir = Path(workdir)
        self.ensure_resources = ensure_resources
        self.log_path = log_path or self.workdir / "controller.log"
        self.url: str | None = None
        self._proc: subprocess.Popen | None = None
        self._lines: queue.Queue[str] = queue.Queue()

    def start(self, timeout: float = 60) -> str:
        self.workdir.mkdir(parents=True, exist_ok=True)
        config_path = self.workdir / "controller.yaml"
        config_path.write_text(dump(self.settings))
        cmd = [sys.executable, "-m", "edgecloud.cli", "--config", str(config_path), "controller", "serve"]
        if self.ensure_resources:
            cmd.append("--ensure-resources")
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        self._proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, start_new_session=True
        )
        threading.Thread(target=self._pump, daemon=True, name="controller-log").start()
        ready = await_line(self._proc, self._lines, self.READY_PREFIX, timeout)
        if ready:
            self.url = ready.split()[0]
            return self.url
        self.close()
        raise RuntimeError(f"controller did not start; see {self.log_path}")

    def _pump(self):
        # Keep the child's output in a log file; watch it for the ready line.
        with open(self.log_path, "a") as sink:
            for line in self._proc.stdout:
                sink.write(line)
                sink.flush()
                if self.url is None:
                    self._lines.put(line)

    @property
    def pid(self) -> int | None:
        """The controller's process (gunicorn's master; its worker is a child)."""
        return self._proc.pid if self._proc is not None else None

    def kill(self) -> None:
        """kill -9 the controller (gunicorn's master and worker): no hook, no cleanup runs. Its nginx,
        in a session of its own, gets SIGTERM from the kernel as its parent dies, and exits."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def close(self, timeout: float = 30):
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            log.warning("controller ignored SIGTERM for %ss; killing it", timeout)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()

    def __repr__(self):
        return f"<ControllerProcess {self.url or 'not started'}>"
