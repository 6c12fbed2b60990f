"""`edgecloud demo`'s checks, without running a demo: it refuses to start without a detector that
loads (naming the fix), and it fails when a clip of its good footage did not end done."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.wiring import demo as demo_module


@pytest.fixture
def ran(monkeypatch):
    """Stands in for the demo's run: records the settings it was given and returns ``ran.report``."""

    class Ran:
        settings = None
        report = None

        def __call__(self, settings, **kwargs):
            self.settings = settings
            return self.report

    fake = Ran()
    monkeypatch.setattr(demo_module, "run_demo", fake)
    return fake


@pytest.fixture
def no_model_files(monkeypatch, tmp_path):
    """A plain install: the YOLO weights are nowhere to be found."""
    monkeypatch.setenv("EDGECLOUD_DETECTOR__WEIGHTS", str(tmp_path / "nowhere" / "yolov3-tiny.weights"))


def _clip(status: str, error=None) -> dict:
    return {
        "clip_id": f"20261203T101500000Z_pi-01_0000000{len(status)}",
        "status": status,
        "processed_by": "i-1",
        "trigger_to_result_s": 1.0,
        "labels": "" if status == "done" else None,
        "snapshot_url": None,
        "detector": "hog",
        "error": error,
    }


def test_without_its_model_the_demo_starts_nothing_and_names_the_fix(ran, no_model_files, vtest_avi):
    outcome = CliRunner().invoke(cli, ["demo", "--video", str(vtest_avi)])

    assert outcome.exit_code != 0
    assert ran.settings is None  # nothing recorded, no process started
    assert "cannot load" in outcome.output and "nowhere" in outcome.output
    assert "./scripts/dev.sh demo" in outcome.output and "--detector hog" in outcome.output


def test_a_clip_that_failed_fails_the_demo(ran, no_model_files, vtest_avi):
    ran.report = {
        "clips": [_clip("done"), _clip("failed", "failed 3 times; last error: weights not found")],
        "workers": {"launched": 1, "retired": 1},
    }

    outcome = CliRunner().invoke(cli, ["demo", "--video", str(vtest_avi), "--detector", "hog"])

    assert ran.settings.detector.name == "hog"  # --detector hog passes the check: no files needed
    assert outcome.exit_code != 0
    assert "1 clip(s) not done" in outcome.output and "weights not found" in outcome.output


def test_every_clip_done_is_a_demo_that_passed(ran, vtest_avi):
    ran.report = {"clips": [_clip("done")], "workers": {"launched": 1, "retired": 1}}

    outcome = CliRunner().invoke(cli, ["demo", "--video", str(vtest_avi), "--detector", "hog"])

    assert outcome.exit_code == 0, outcome.output
