"""`edgecloud lambda package` for Lambda's runtime, the size limit, and the container
image's Dockerfile, validated as far as this machine can (no Docker engine, no registry)."""

from __future__ import annotations

import importlib
import json
import zipfile

import dockerfile
import pytest
from click.testing import CliRunner

from edgecloud import __version__
from edgecloud.cli import cli
from edgecloud.worker.lambda_.package import HANDLER, LAMBDA_PYTHON, PackageError, check_size

from .conftest import REPO, wheel_cache

DOCKERFILE = REPO / "worker" / "lambda_" / "Dockerfile"


@pytest.mark.slow
def test_the_zip_for_lambdas_python_runtime(tmp_path):
    out, report = tmp_path / "function.zip", tmp_path / "package.json"
    with wheel_cache() as cache:
        result = CliRunner().invoke(
            cli, ["lambda", "package", "--out", str(out), "--json", str(report), "--cache", str(cache)]
        )
    assert result.exit_code == 0, result.output
    built = json.loads(report.read_text())
    assert built["handler"] == HANDLER and built["unzipped_mb"] <= 250
    names = zipfile.ZipFile(out).namelist()
    compiled = [n for n in names if n.endswith(".so") and "cpython-" in n]
    assert compiled and all("cpython-312-x86_64-linux-gnu" in n for n in compiled)  # Lambda's python3.12


def test_over_the_limit_names_the_largest_parts(tmp_path):
    (tmp_path / "cv2").mkdir()
    (tmp_path / "cv2" / "cv2.so").write_bytes(b"\0" * 3_000_000)
    (tmp_path / "numpy").mkdir()
    (tmp_path / "numpy" / "core.so").write_bytes(b"\0" * 1_000_000)
    with pytest.raises(
        PackageError,
        match=r"4\.0 MB unzipped, over Lambda's 2 MB limit; "
        r"largest parts: cv2 3\.0 MB, numpy 1\.0 MB",
    ):
        check_size(tmp_path, limit_mb=2)


def test_the_dockerfile_passes_hadolint(hadolint):
    done = hadolint(DOCKERFILE)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_image_runs_the_same_handler_on_lambdas_base_image():
    commands = {c.cmd: c for c in dockerfile.parse_file(str(DOCKERFILE))}  # Docker's own parser
    assert commands["FROM"].value == (f"public.ecr.aws/lambda/python:{LAMBDA_PYTHON}",)
    assert commands["CMD"].value == (HANDLER,) and commands["CMD"].json
    module, _, name = HANDLER.rpartition(".")
    assert callable(getattr(importlib.import_module(module), name))


def test_what_the_image_copies_exists_after_the_documented_build():
    copies = [c.value for c in dockerfile.parse_file(str(DOCKERFILE)) if c.cmd == "COPY"]
    sources = [src for *srcs, _ in copies for src in srcs]
    assert (REPO / "ami" / "requirements.lock").is_file() and "ami/requirements.lock" in sources
    # `pip wheel --no-deps -w dist .` names the wheel after the project's version.
    assert f"dist/edgecloud-{__version__}-py3-none-any.whl" in sources
