"""`edgecloud demo --engine lambda`: the cloud's clips are processed by the function from its zip."""

import json

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli

from ..integration.test_demo import assert_each_clip_says_where_and_why

pytestmark = pytest.mark.slow


def test_the_function_processes_the_clouds_clips(tmp_path, vtest_avi, local_zip, monkeypatch):
    monkeypatch.setenv("EDGECLOUD_FUNCTION__PACKAGE", str(local_zip))
    out = tmp_path / "report.json"
    result = CliRunner().invoke(
        cli,
        [
            "demo",
            "--engine",
            "lambda",
            "--video",
            str(vtest_avi),
            "--clips",
            "5",
            "--json",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    cloud = [c for c in report["clips"] if c["processed_by"] != "edge"]
    assert cloud and all(c["status"] == "done" and c["processed_by"].startswith("lambda:") for c in cloud)
    function = report["function"]
    assert function["invocations"] >= len(cloud) and 1 <= function["cold_starts"] <= function["max_concurrency"]
    assert function["errors"] == 0 and function["init_s_p50"] > 0
    assert report["workers"] == {"launched": 0, "retired": 0}
    assert_each_clip_says_where_and_why(report)


def test_the_frame_path_answers_every_frame(tmp_path, vtest_avi, local_zip, monkeypatch):
    monkeypatch.setenv("EDGECLOUD_FUNCTION__PACKAGE", str(local_zip))
    out = tmp_path / "frames.json"
    result = CliRunner().invoke(
        cli,
        [
            "demo",
            "--mode",
            "frames",
            "--seconds",
            "3",
            "--video",
            str(vtest_avi),
            "--json",
            str(out),
            "--workdir",
            str(tmp_path / "work"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    frames = report["frames"]
    assert len(frames) >= 3  # a frame every 0.5 s while the PIR is high
    for f in frames:
        assert set(f) == {"frame_id", "sent_at", "answered_at", "round_trip_s", "labels"}
        assert f["round_trip_s"] == pytest.approx(f["answered_at"] - f["sent_at"], abs=2e-3) and f["round_trip_s"] > 0
    assert "person" in {label for f in frames for label in f["labels"].split(",")}
    assert 0 < report["round_trip_p50_s"] <= report["round_trip_p95_s"]
