"""The demo's Lambda engine: the function from its zip, emulated on this machine, serving the jobs queue."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
from statistics import median

from rich.console import Console

from edgecloud.config import Settings
from edgecloud.worker.lambda_.local import LocalDeployment
from edgecloud.worker.lambda_.package import local_package

# Concurrency on this machine: each execution environment is a process with OpenCV loaded.
DEMO_MAX_CONCURRENCY = 4


def start_lambda(stack: ExitStack, settings: Settings, workdir: Path, console: Console) -> LocalDeployment:
    """Switch the settings to the lambda backend and start the function and its event sources."""
    settings.fleet.backend = "lambda"
    settings.autoscaler.max_workers = min(settings.autoscaler.max_workers, DEMO_MAX_CONCURRENCY)
    console.log(f"deployment zip {settings.function.package} (built for this machine's Python if missing or stale)")
    if settings.detector.name.startswith("darknet:") and not settings.detector.weights:
        # The zip carries no model files (a real deployment adds them as a layer): the emulated
        # function runs on this machine, so it reads the verified copy found here.
        from edgecloud.detect.darknet_files import resolve

        weights, cfg = resolve(
            settings.detector.name.split(":", 1)[1], None, settings.detector.config_file, settings.detector.cache_dir
        )
        settings.detector.weights, settings.detector.config_file = weights, cfg
    zip_path = local_package(settings.function.package)
    deployment = stack.enter_context(LocalDeployment(settings, zip_path, workdir / "function"))
    console.log(
        f"function {settings.function.name}: up to {deployment.function.max_concurrency} execution "
        "environments, fed by the jobs queue (emulated event source mapping)"
    )
    return deployment


def lambda_report(deployment: LocalDeployment) -> dict:
    """Invocations, cold starts and their init time, as the emulated Lambda saw them."""
    calls = deployment.function.invocations
    inits = [c.reply["init_s"] for c in calls if c.reply.get("init_s") is not None]
    return {
        "invocations": len(calls),
        "cold_starts": deployment.function.cold_starts,
        "init_s_p50": round(median(inits), 2) if inits else None,
        "errors": sum(not c.ok for c in calls),
        "max_concurrency": deployment.function.max_concurrency,
    }
