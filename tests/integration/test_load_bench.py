"""`edgecloud bench load`: Locust users against the real controller and fleet."""

import json

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli

pytestmark = pytest.mark.slow


def test_load_bench_round_trips_every_clip(tmp_path, vtest_mp4):
    out = tmp_path / "load.json"
    result = CliRunner().invoke(
        cli,
        ["bench", "load", "--clip", str(vtest_mp4), "--clips", "3", "--timeout", "90", "--json", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["clips"] == 3
    # On failure the report shows the unfinished trips (clip, status, upload_error) and the controller's log about them.
    assert report["round_trip"]["timed_out"] == 0, report
    assert report["upload"]["failures"] == 0
    assert 0 < report["round_trip"]["p50_s"] <= report["round_trip"]["max_s"]


def test_summary_counts_unfinished_trips_as_timed_out():
    from edgecloud.bench.load import summarise

    trips = [
        {"clip_id": "a", "status": "done", "upload_s": 0.2, "round_trip_s": 2.0},
        {"clip_id": "b", "status": "done", "upload_s": 0.4, "round_trip_s": 4.0},
        {"clip_id": "c", "status": "processing", "upload_s": 0.3, "round_trip_s": 120.0},
        {"clip_id": "d", "status": "upload 503", "upload_s": 0.1, "round_trip_s": 0.1},
    ]
    s = summarise(trips, clips=5)  # the fifth never reported at all
    assert s["round_trip"]["timed_out"] == 3
    assert s["round_trip"]["max_s"] == 4.0 and s["round_trip"]["avg_s"] == 3.0
    assert s["upload"]["failures"] == 1
    assert [t["clip_id"] for t in s["unfinished"]] == ["c", "d"]  # the report names them and where they stood


def test_the_controller_log_lines_about_unfinished_clips_or_errors_are_picked(tmp_path):
    from edgecloud.bench.load import log_lines_about

    log = tmp_path / "controller.log"
    log.write_text(
        "GET /v1/clips/clip-a 200\nPOST /v1/clips clip-c 201\nWARNING retrying PutObject: read timeout\n"
        "GET /healthz 200\n"
    )
    picked = ["POST /v1/clips clip-c 201", "WARNING retrying PutObject: read timeout"]
    assert log_lines_about(log, ["clip-c"]) == picked
    assert log_lines_about(log, ["clip-c"], most=1) == picked[1:]
    assert log_lines_about(tmp_path / "none.log", ["clip-c"]) == []
