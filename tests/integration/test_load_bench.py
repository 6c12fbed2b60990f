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
    assert report["round_trip"]["timed_out"] == 0, report  # the trips say which clip and where it stood
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
