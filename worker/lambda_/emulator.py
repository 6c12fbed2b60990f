"""The Lambda function, emulated on this machine from its deployment zip.

moto can create functions but needs Docker to invoke them, and there is none
here; so, as SAM's local tools do, each execution environment is a child
process (``runtime.py``) whose import path holds only the unpacked zip and the
boto3 the Lambda runtime provides. An environment is made on demand (a cold
start: the handler's import and model load), reused while it lives (warm), and
killed when an invocation outruns the function timeout, as Lambda does.
``LocalFunction`` keeps up to ``max_concurrency`` of them and publishes the
``AWS/Lambda ConcurrentExecutions`` metric the controller shows in ``/v1/stats``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from edgecloud.aws import Aws
from edgecloud.config import Settings

from .package import HANDLER

log = logging.getLogger(__name__)

RUNTIME_SCRIPT = Path(__file__).with_name("runtime.py")
# What Lambda's Python runtime has installed besides the standard library: boto3 and its dependencies.
RUNTIME_PROVIDES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
# Sections of the settings the function reads (from its environment, as on Lambda).
FUNCTION_SECTIONS = ("aws", "storage", "queues", "detector")
CREDENTIALS = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")  # Lambda passes its role's


def unpack(zip_path: Path, into: Path) -> Path:
    """The zip's contents in a folder named after its digest (unpacked once per build)."""
    digest = hashlib.sha256(Path(zip_path).read_bytes()).hexdigest()[:16]
    task = Path(into) / f"task-{digest}"
    if not task.is_dir():
        partial = task.with_name(task.name + ".partial")
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(partial)
        partial.rename(task)
    return task


def runtime_dir(into: Path) -> Path:
    """A folder holding only the runtime's own packages (links to this environment's copies)."""
    folder = Path(into) / "runtime"
    folder.mkdir(parents=True, exist_ok=True)
    for name in RUNTIME_PROVIDES:
        spec = importlib.util.find_spec(name)
        source = (
            Path(next(iter(spec.submodule_search_locations))) if spec.submodule_search_locations else Path(spec.origin)
        )
        link = folder / source.name
        if not link.exists():
            link.symlink_to(source)
    return folder


def function_environment(settings: Settings) -> dict[str, str]:
    """The function's environment variables: its settings as ``EDGECLOUD_<SECTION>__<KEY>``."""
    env = {}
    for section in FUNCTION_SECTIONS:
        for key, value in getattr(settings, section).model_dump(mode="json").items():
            env[f"EDGECLOUD_{section.upper()}__{key.upper()}"] = (
                "" if value is None else json.dumps(value) if not isinstance(value, str) else value
            )
    return env


@dataclass(frozen=True)
class Invocation:
    request_id: str
    reply: dict  # ok, result | errorType/errorMessage, init_s (cold start), duration_s
    cold: bool

    @property
    def ok(self) -> bool:
        return bool(self.reply.get("ok"))


class ExecutionEnvironment:
    """One child process running the handler; ``invoke`` enforces the function timeout."""

    def __init__(self, task: Path, runtime: Path, settings: Settings, log_path: Path):
        self.settings = settings
        f = settings.function
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "AWS_REGION": settings.aws.region,
            "AWS_DEFAULT_REGION": settings.aws.region,
            "AWS_LAMBDA_FUNCTION_NAME": f.name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(f.memory_mb),
            "LAMBDA_TASK_ROOT": str(task),
            **{k: os.environ[k] for k in CREDENTIALS if k in os.environ},
            **function_environment(settings),
        }
        self._log = open(log_path, "a")
        self._proc = subprocess.Popen(
            [sys.executable, "-I", "-S", str(RUNTIME_SCRIPT), str(task), str(runtime), HANDLER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            env=env,
            cwd=task,
            start_new_session=True,
        )
        self._replies: queue.Queue = queue.Queue()
        threading.Thread(target=self._pump, daemon=True, name="lambda-replies").start()
        self.invocations = 0

    def _pump(self) -> None:
        for line in self._proc.stdout:
            self._replies.put(json.loads(line))
        self._replies.put(None)  # the process ended

    @property
    def alive(self) -> bool:
        return self._proc.poll() is None

    def invoke(self, event: dict, request_id: str) -> dict:
        f = self.settings.function
        request = {
            "event": event,
            "request_id": request_id,
            "function_name": f.name,
            "memory_mb": f.memory_mb,
            "deadline_ms": time.time() * 1000 + f.timeout_s * 1000,
        }
        self.invocations += 1
        try:
            self._proc.stdin.write(json.dumps(request) + "\n")
            self._proc.stdin.flush()
            reply = self._replies.get(timeout=f.timeout_s)
        except queue.Empty:
            self.close()
            return {
                "ok": False,
                "errorType": "Sandbox.Timedout",
                "errorMessage": f"Task timed out after {f.timeout_s:.2f} seconds",
            }
        except (BrokenPipeError, OSError):
            reply = None
        if reply is None:
            self.close()
            return {"ok": False, "errorType": "Runtime.ExitError", "errorMessage": "the runtime exited"}
        return reply

    def close(self) -> None:
        if self._proc.poll() is None:
            os.killpg(self._proc.pid, signal.SIGKILL)
            self._proc.wait()
        self._log.close()


class LocalFunction:
    """The function: execution environments made on demand, up to ``max_concurrency`` at once."""

    def __init__(
        self,
        settings: Settings,
        zip_path: Path,
        workdir: Path,
        *,
        aws: Optional[Aws] = None,
        max_concurrency: Optional[int] = None,
    ):
        self.settings = settings
        self.workdir = Path(workdir).resolve()  # the environments run with the task folder as their cwd
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.task = unpack(zip_path, self.workdir)
        self.runtime = runtime_dir(self.workdir)
        self.aws = aws or Aws(settings.aws)
        self.max_concurrency = max(1, max_concurrency or settings.autoscaler.max_workers)
        self._idle: list[ExecutionEnvironment] = []
        self._all: list[ExecutionEnvironment] = []
        self._slots = threading.BoundedSemaphore(self.max_concurrency)
        self._lock = threading.Lock()
        self.busy = 0
        self.cold_starts = 0
        self.invocations: list[Invocation] = []

    def invoke(self, event: dict) -> Invocation:
        """Run the handler on ``event`` in a free environment (a new one: a cold start); blocks while all are busy."""
        request_id = str(uuid.uuid4())
        with self._slots:
            with self._lock:
                env = self._idle.pop() if self._idle else None
                cold = env is None
                if cold:
                    self.cold_starts += 1
                    env = ExecutionEnvironment(
                        self.task, self.runtime, self.settings, self.workdir / f"function-{len(self._all)}.log"
                    )
                    self._all.append(env)
                self.busy += 1
                self._publish(self.busy)
            try:
                reply = env.invoke(event, request_id)
            finally:
                with self._lock:
                    self.busy -= 1
                    if env.alive:
                        self._idle.append(env)
                    self._publish(self.busy)
        invocation = Invocation(request_id, reply, cold)
        self.invocations.append(invocation)
        if not invocation.ok:
            log.warning("invocation %s failed: %s: %s", request_id, reply.get("errorType"), reply.get("errorMessage"))
        return invocation

    def provision(self, n: int) -> float:
        """Start ``n`` environments ahead of traffic (Lambda's provisioned concurrency); their slowest init, s."""
        inits = []
        with self._lock:
            made = [
                ExecutionEnvironment(
                    self.task, self.runtime, self.settings, self.workdir / f"function-{len(self._all) + i}.log"
                )
                for i in range(n)
            ]
            self._all += made
        for env in made:
            reply = env.invoke({"Records": []}, f"provision-{uuid.uuid4()}")
            inits.append(reply.get("init_s") or 0.0)
        with self._lock:
            self._idle += [env for env in made if env.alive]
        return max(inits, default=0.0)

    def _publish(self, value: int) -> None:
        try:
            self.aws.client("cloudwatch").put_metric_data(
                Namespace="AWS/Lambda",
                MetricData=[
                    {
                        "MetricName": "ConcurrentExecutions",
                        "Value": float(value),
                        "Unit": "Count",
                        "Dimensions": [{"Name": "FunctionName", "Value": self.settings.function.name}],
                    }
                ],
            )
        except Exception:  # a metric is not worth failing an invocation for
            log.debug("could not publish concurrency", exc_info=True)

    def close(self) -> None:
        with self._lock:
            for env in self._all:
                env.close()
            self._idle.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
