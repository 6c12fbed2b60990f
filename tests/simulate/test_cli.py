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
    result = invoke(
        "--trace",
        "burst:40",
        "--boot",
        "60",
        "--process",
        "3",
        "--policies",
        POLICIES,
        "--json",
        str(out_json),
        "--plot",
        str(out_png),
    )
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
    # The most workers up at once: never past the cap; the seed launches its whole cap at once.
    assert all(1 <= row["peak_workers"] <= 19 for row in doc["policies"].values())
    assert doc["policies"]["seed-cse546"]["peak_workers"] == 19
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_csv_trace_and_settings_overrides(tmp_path):
    trace = tmp_path / "t.csv"
    trace.write_text("t\n0\n1\n2\n30\n")
    out_json = tmp_path / "r.json"
    result = invoke("--trace", str(trace), "--max-workers", "2", "--policies", "seed-cse546", "--json", str(out_json))
    assert result.exit_code == 0, result.output
    doc = json.loads(out_json.read_text())
    assert doc["clips"] == 4 and doc["policies"]["seed-cse546"]["launches"] == 2  # 4 clips at once, capped at 2 workers


@pytest.mark.parametrize(
    "args,message",
    [
        (["--trace", "burst:x"], "burst:N"),
        (["--trace", "burst:3", "--boot", "normal:1"], "normal:MEAN:SD"),
        (["--trace", "burst:3", "--policies", "magic"], "unknown policy"),
        (["--trace", "burst:3", "--max-workers", "0"], "max_workers"),
        (["--trace", "burst:3", "--interval", "-1"], "interval"),
    ],
)
def test_bad_input_is_a_usage_error(args, message):
    result = invoke(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_keda_and_a_warm_pool_beside_the_cold_runs(tmp_path):
    out = tmp_path / "r.json"
    result = invoke(
        "--trace",
        "burst:40",
        "--boot",
        "60",
        "--process",
        "3",
        "--policies",
        "default,keda",
        "--warm-boot",
        "10",
        "--json",
        str(out),
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    assert list(doc["policies"]) == ["default", "default+warm", "keda", "keda+warm"] and doc["warm_boot"] == 10
    rows = doc["policies"]
    # What the pool buys: KEDA launches the same 2 replicas, 50 s sooner up; ours, knowing boots are
    # short, launches fewer workers for a lower p95 still.
    assert rows["keda+warm"]["launches"] == 2 and rows["keda+warm"]["p95_s"] <= rows["keda"]["p95_s"] - 45
    assert rows["default+warm"]["p95_s"] < rows["default"]["p95_s"]
    assert rows["default+warm"]["instance_seconds"] < rows["default"]["instance_seconds"]
    # KEDA: queueLength = 60 s / 3 s = 20 clips per replica, so 2 replicas for 40 clips; the
    # 300 s cooldown keeps them long after the queue is empty.
    assert rows["keda"]["launches"] == 2
    assert rows["keda"]["instance_seconds"] >= 2 * 300
    assert "keda: aws-sqs-queue scaler: queueLength 20, polling 30 s, cooldown 300 s" in result.output


def test_keda_polls_every_30_seconds():
    from edgecloud.config import AutoscalerSettings, WorkerSettings
    from edgecloud.controller.autoscaler import Observation
    from edgecloud.controller.simulate.policies import build

    keda = build("keda", AutoscalerSettings(process_time_s=3), WorkerSettings())
    idle = Observation(visible=0, in_flight=0, booting=0, polling=0)
    assert keda.tick(idle, 0.0).launch == 0
    assert keda.tick(Observation(visible=50, in_flight=0, booting=0, polling=0), 5.0).launch == 0  # between polls
    assert keda.tick(Observation(visible=50, in_flight=0, booting=0, polling=0), 30.0).launch == 3
    assert keda.tick(idle, 60.0).drain == 0  # the cooldown holds 3 replicas ...
    assert keda.tick(Observation(visible=0, in_flight=0, booting=0, polling=3), 330.0).drain == 3  # ... then zero
