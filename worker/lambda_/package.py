"""``edgecloud lambda package``: the deployment zip Lambda's Python runtime accepts.

The handler (``edgecloud.worker.lambda_handler.handle``) needs OpenCV, numpy, pydantic,
PyYAML and the tracker (edgefirst-tracker, under 1 MB; the scipy that other trackers need would not
fit); boto3 comes with the runtime. Their manylinux wheels for the target
Python are downloaded once into a cache (``var/lambda/wheels/cp<version>``),
installed into a staging folder next to the edgecloud modules the handler
imports (no torch: HOG, Haar and OpenCV's DNN run through OpenCV; no PyAV, whose own FFmpeg
would not fit: ``edgecloud.limits`` reads clip headers through OpenCV there), checked
against Lambda's 250 MB unzipped limit, and zipped. The versions are the ones
this environment runs, so the function runs what the tests ran.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

HANDLER = "edgecloud.worker.lambda_handler.handle"
LAMBDA_PYTHON = "3.12"  # the python3.12 runtime (Amazon Linux 2023, glibc 2.34)
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_28_x86_64")
UNZIPPED_LIMIT_MB = 250.0
ZIPPED_DIRECT_LIMIT_MB = 50.0  # larger zips must be uploaded to S3 first (the stack does)
# What the handler imports beyond the standard library and the runtime's boto3.
REQUIREMENTS = ("numpy", "opencv-python-headless", "pydantic", "PyYAML", "edgefirst-tracker")
# edgecloud packages the handler imports; the Pi agent, controller and infra stay out.
PACKAGES = ("edgecloud", "edgecloud.protocol", "edgecloud.detect", "edgecloud.worker")
# Never needed at run time: numpy's own test suites (8 MB).
PRUNED_TESTS_UNDER = ("numpy",)


class PackageError(RuntimeError):
    """The zip cannot be built (no wheel for the platform, over Lambda's limit...)."""


@dataclass(frozen=True)
class Package:
    zip: Path
    handler: str
    unzipped_mb: float
    zipped_mb: float
    python_version: str

    def as_json(self) -> dict:
        return {
            "zip": str(self.zip),
            "handler": self.handler,
            "unzipped_mb": self.unzipped_mb,
            "zipped_mb": self.zipped_mb,
        }


def local_python() -> str:
    return f"{sys.version_info.major}.{sys.version_info.minor}"


def pinned_requirements() -> list[str]:
    """Each requirement at the version installed here."""
    return [f"{name}=={importlib.metadata.version(name)}" for name in REQUIREMENTS]


def _target_flags(python_version: str) -> list[str]:
    flags = ["--only-binary=:all:", "--implementation", "cp", "--python-version", python_version]
    for platform in PLATFORMS:
        flags += ["--platform", platform]
    return flags


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args], capture_output=True, text=True
    )


def fetch_wheels(python_version: str, cache: Path) -> Path:
    """The wheels for ``python_version`` in ``cache`` (downloaded from PyPI if not there yet)."""
    wheels = cache / f"cp{python_version.replace('.', '')}"
    wheels.mkdir(parents=True, exist_ok=True)
    done = _pip("download", "--dest", str(wheels), *_target_flags(python_version), *pinned_requirements())
    if done.returncode != 0:
        raise PackageError(
            f"could not fetch wheels for Python {python_version} ({', '.join(PLATFORMS)}):\n"
            f"{done.stderr.strip()[-2000:]}"
        )
    return wheels


def install(staging: Path, python_version: str, cache: Path) -> None:
    """Install the requirements' wheels into ``staging``, from the cache when it has them all."""
    args = ["install", "--target", str(staging), "--no-compile", "--no-index", *_target_flags(python_version)]
    wheels = cache / f"cp{python_version.replace('.', '')}"
    if wheels.is_dir() and _pip(*args, "--find-links", str(wheels), *pinned_requirements()).returncode == 0:
        return
    shutil.rmtree(staging, ignore_errors=True)
    wheels = fetch_wheels(python_version, cache)
    done = _pip(*args, "--find-links", str(wheels), *pinned_requirements())
    if done.returncode != 0:
        raise PackageError(f"could not install the wheels:\n{done.stderr.strip()[-2000:]}")


def copy_sources(staging: Path) -> None:
    """The handler's edgecloud modules, laid out as their import names (edgecloud/worker/...)."""
    for package in PACKAGES:
        spec = importlib.util.find_spec(package)
        source = Path(next(iter(spec.submodule_search_locations)))
        target = staging.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for path in source.glob("*.py"):
            shutil.copy2(path, target / path.name)


def prune(staging: Path) -> None:
    doomed = [p for p in staging.rglob("__pycache__") if p.is_dir()]
    for top in PRUNED_TESTS_UNDER:
        doomed += [p for p in (staging / top).rglob("tests") if p.is_dir()]
    for path in sorted(doomed, key=lambda p: len(p.parts), reverse=True):
        shutil.rmtree(path, ignore_errors=True)


def tree_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def check_size(staging: Path, limit_mb: float = UNZIPPED_LIMIT_MB) -> float:
    """The unzipped size in MB; PackageError naming the largest parts when over ``limit_mb``."""
    total = tree_mb(staging)
    if total > limit_mb:
        parts = sorted(
            ((tree_mb(p) if p.is_dir() else p.stat().st_size / 1e6, p.name) for p in staging.iterdir()), reverse=True
        )[:5]
        largest = ", ".join(f"{name} {mb:.1f} MB" for mb, name in parts)
        raise PackageError(
            f"the package is {total:.1f} MB unzipped, over Lambda's {limit_mb:g} MB limit; largest parts: {largest}"
        )
    return total


def write_zip(staging: Path, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_suffix(out.suffix + ".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as zf:
        for path in sorted(staging.rglob("*")):
            if path.is_file():
                zf.write(path, path.relative_to(staging).as_posix())
    partial.replace(out)  # a crash never leaves a half-written zip under the real name


def build(
    out: Path,
    *,
    python_version: str = LAMBDA_PYTHON,
    cache: Path = Path("var/lambda/wheels"),
    limit_mb: float = UNZIPPED_LIMIT_MB,
) -> Package:
    """Build the deployment zip at ``out`` for Lambda's ``python_version`` runtime."""
    out = Path(out)
    staging = out.parent / f".{out.stem}-staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    try:
        install(staging, python_version, Path(cache))
        copy_sources(staging)
        prune(staging)
        unzipped = check_size(staging, limit_mb)
        write_zip(staging, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return Package(out, HANDLER, round(unzipped, 1), round(out.stat().st_size / 1e6, 1), python_version)


def stale(zip_path: Path) -> bool:
    """True when the zip is missing or older than one of the edgecloud modules it packs."""
    zip_path = Path(zip_path)
    if not zip_path.is_file():
        return True
    built = zip_path.stat().st_mtime
    for package in PACKAGES:
        source = Path(next(iter(importlib.util.find_spec(package).submodule_search_locations)))
        if any(p.stat().st_mtime > built for p in source.glob("*.py")):
            return True
    return False


def local_package(zip_path: Path, cache: Path = Path("var/lambda/wheels")) -> Path:
    """A zip this machine's Python can import (the local emulation's), rebuilt when stale."""
    if stale(zip_path):
        build(zip_path, python_version=local_python(), cache=cache)
    return Path(zip_path)
