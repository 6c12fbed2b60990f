"""Set-up and the two test tiers. `scripts/dev.sh demo` installs no torch (the default detector is YOLO
on OpenCV): nothing the demo runs may import it, checked in a process where importing torch fails, as
in the demo's venv. `scripts/dev.sh quick` runs what is not `slow`: no test there starts a process."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import MULTI_PROCESS_FIXTURES

REPO = Path(__file__).resolve().parent.parent

WITHOUT_TORCH = r"""
import importlib, importlib.abc, json, pkgutil, sys, tomllib

class NoTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in ("torch", "torchvision"):
            raise ModuleNotFoundError(f"No module named {name!r} (the demo's set-up has no torch)")

sys.meta_path.insert(0, NoTorch())
# Every module of the package; the Locust script is locust's to import (gevent patches first).
packages = tomllib.loads(open("pyproject.toml").read())["tool"]["setuptools"]["packages"]
failed = {}
for package in packages:
    for module in pkgutil.iter_modules(getattr(importlib.import_module(package), "__path__", []), package + "."):
        if module.name != "edgecloud.bench.locustfile":
            try:
                importlib.import_module(module.name)
            except ImportError as err:
                failed[module.name] = str(err)

import av
from edgecloud.config import from_dict
from edgecloud.detect import create_detector

settings = from_dict({})
with av.open(sys.argv[1]) as container:
    frame = next(container.decode(video=0)).to_ndarray(format="bgr24")
labels = sorted({box.label for box in create_detector(settings.detector).detect([frame])[0]})
print(json.dumps({"failed": failed, "detector": settings.detector.name, "labels": labels,
                  "torch_loaded": sorted(m for m in sys.modules if m.partition(".")[0] in ("torch", "torchvision"))}))
"""


@pytest.mark.slow
def test_the_demo_runs_without_torch(vtest_avi):
    done = subprocess.run(
        [sys.executable, "-c", WITHOUT_TORCH, str(vtest_avi)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-3000:]
    seen = json.loads(done.stdout.splitlines()[-1])
    # Only the torchvision backend needs torch; it is loaded by name, when a detector asks for it.
    assert list(seen["failed"]) == ["edgecloud.detect.torchvision_models"]
    assert "torch" in seen["failed"]["edgecloud.detect.torchvision_models"]
    assert seen["detector"] == "darknet:yolov3-tiny" and "person" in seen["labels"]
    assert seen["torch_loaded"] == []


def test_a_test_that_uses_a_multi_process_fixture_is_slow(request):
    unmarked = [
        item.nodeid
        for item in request.session.items
        if MULTI_PROCESS_FIXTURES & set(item.fixturenames) and not item.get_closest_marker("slow")
    ]
    assert unmarked == []


def test_a_quick_test_that_starts_a_process_fails():
    with pytest.raises(pytest.fail.Exception, match="starts a process: mark it @pytest.mark.slow"):
        subprocess.run(["true"])
