"""`edgecloud simulate` through click's CliRunner."""
import json

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli

POLICIES = "default,seed-cse546,seed-classifycloud,aws-target-tracking"


def invoke(*args):
    return CliRunner().invoke(cli, ["simulate", *args], catch_exceptions=False)


def test_table_json_and_chart(tmp_path):
    out_json, out_png = tmp_path / "r.json", tmp_path / "r.png"
    result = invoke("--trace", "burst:40", "--boot", "60", "--process", "3", "--policies", POLICIES,
                    "--json", str(out_json), "--plot", str(out_png))
    assert result.exit_code == 0, result.output
    for name in POLICIES.split(","):
        assert name in result.output
    doc = json.loads(out_json.read_text())
    assert doc["clips"] == 40 and doc["wall_s"] >= 0
    assert list(doc["policies"]) == POLICIES.split(",")
    for row in doc["policies"].values():
        assert {"p50_s", "p95_s", "max_s", "instance_seconds", "launches"} <= set(row)
        assert row["p50_s"] <= row["p95_s"] <= row["max_s"]
    assert doc["policies"]["seed-cse546"]["launches"] == 19
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_csv_trace_and_settings_overrides(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("t\n0\n1\n2\n30\n")
    out_json = tmp_path / "r.json"
    result = invoke("--trace", str(trace), "--max-workers", "2", "--policies", "seed-cse546",
                    "--json", str(out_json))
    assert result.exit_code == 0, result.output
    doc = json.loads(out_json.read_text())
    assert doc["clips"] == 4 and doc["policies"]["seed-cse546"]["launches"] == 2  # 4 clips at once, capped at 2 workers


@pytest.mark.parametrize("args,message", [
    (["--trace", "burst:x"], "burst:N"),
    (["--trace", "burst:3", "--boot", "normal:1"], "normal:MEAN:SD"),
    (["--trace", "burst:3", "--policies", "magic"], "unknown policy"),
    (["--trace", "burst:3", "--max-workers", "0"], "max_workers"),
    (["--trace", "burst:3", "--interval", "-1"], "interval"),
])
def test_bad_input_is_a_usage_error(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output
