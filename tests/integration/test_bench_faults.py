"""`edgecloud bench faults` and `bench upload` on the real processes, reduced to their cheap parts."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli

pytestmark = pytest.mark.slow


def test_bench_faults_cheap_scenarios_lose_nothing(vtest_mp4, tmp_path):
    out = tmp_path / "faults.json"
    run = CliRunner().invoke(cli, ["bench", "faults", "--clip", str(vtest_mp4), "--scenario", "network-down",
                                   "--scenario", "poison-clip", "--json", str(out)])
    assert run.exit_code == 0, run.output
    scenarios = {s["name"]: s for s in json.loads(out.read_text())["scenarios"]}
    assert set(scenarios) == {"network-down", "poison-clip"}
    for s in scenarios.values():
        assert set(s) >= {"name", "clips", "results", "lost", "duplicated", "seconds"}
        assert s["clips"] == s["results"] > 0 and s["lost"] == 0 and s["duplicated"] == 0
    assert scenarios["poison-clip"]["failed"] and "not a video" in scenarios["poison-clip"]["failed"][0]


def test_bench_upload_reports_rate_percentiles_errors_and_the_s3_floor(vtest_mp4, tmp_path):
    out = tmp_path / "upload.json"
    run = CliRunner().invoke(cli, ["bench", "upload", "--clip", str(vtest_mp4), "--devices", "2", "--seconds", "2",
                                   "--json", str(out)])
    assert run.exit_code == 0, run.output
    report = json.loads(out.read_text())
    assert report["uploads"] > 0 and report["errors"] == 0 and report["uploads_per_s"] > 0
    assert 0 < report["p50_ms"] <= report["p99_ms"] and report["s3_put_floor"]["p50_ms"] > 0
    # Each process's CPU per upload: moto in its own process, so the three are apart.
    assert report["aws_process"] == "own" and set(report["cpu_ms_per_upload"]) == {"controller", "aws", "client"}
    assert all(ms > 0 for ms in report["cpu_ms_per_upload"].values())
