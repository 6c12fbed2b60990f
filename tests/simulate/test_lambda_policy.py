"""The simulator's lambda policy: cold starts, the SQS event source's concurrency ramp, per-ms billing."""

import json

import numpy as np
import pytest
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.controller.simulate.lambda_ import (
    KEEP_WARM_S,
    PRICE_PER_GB_S,
    PRICE_PER_REQUEST,
    LambdaModel,
    simulate_lambda,
)


def test_a_burst_ramps_from_five_by_300_a_minute_up_to_the_cap():
    submitted = np.zeros(40)
    outcome = simulate_lambda(LambdaModel(cold_start_s=1.0, max_concurrency=20), submitted, np.full(40, 30.0))
    starts = outcome.finished[:20] - 31.0  # cold: each of the first 20 environments serves one clip
    assert (starts[:5] == 0).all()  # five at once
    assert starts[5] == pytest.approx(0.2, abs=1e-6)  # then one more every 0.2 s (300 per minute)
    assert starts[19] == pytest.approx(3.0, abs=1e-6)
    # Capped at 20: the 21st waits for the first to finish at 31 s, and reuses its warm environment.
    assert outcome.finished[20] == pytest.approx(31.0 + 30.0)
    assert outcome.launches == 20


def test_warm_environments_are_reused_until_reclaimed():
    submitted = np.array([0.0, 100.0, 100.0 + KEEP_WARM_S + 50])
    outcome = simulate_lambda(LambdaModel(cold_start_s=2.0), submitted, np.full(3, 1.0))
    assert list(outcome.latencies) == pytest.approx([3.0, 1.0, 3.0])  # cold, warm, cold again
    assert outcome.launches == 2


def test_billing_is_per_millisecond_of_memory_plus_requests():
    outcome = simulate_lambda(LambdaModel(cold_start_s=0.5, memory_mb=1024), np.array([0.0]), np.array([1.2344]))
    assert outcome.worker_seconds.tolist() == [1.735]  # init included, rounded up to the millisecond
    assert outcome.cost_usd == pytest.approx(1.735 * PRICE_PER_GB_S + PRICE_PER_REQUEST)


def test_every_policy_row_has_a_cost_and_lambda_is_priced_as_a_function(tmp_path):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        cli,
        [
            "simulate",
            "--trace",
            "poisson:0.01:7200",
            "--process",
            "3",
            "--policies",
            "default,seed-cse546,lambda",
            "--cold-start",
            "2",
            "--memory",
            "2048",
            "--json",
            str(out),
            "--plot",
            str(tmp_path / "r.png"),
        ],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    assert "cost $" in result.output and "lambda" in result.output and "cold start 2.00 s (given)" in result.output
    policies = json.loads(out.read_text())["policies"]
    assert all(row["cost_usd"] > 0 for row in policies.values())
    row = policies["lambda"]
    expected = row["instance_seconds"] * 2 * PRICE_PER_GB_S + json.loads(out.read_text())["clips"] * PRICE_PER_REQUEST
    assert row["cost_usd"] == pytest.approx(expected, abs=1e-4)
    assert row["cost_usd"] < policies["default"]["cost_usd"]  # a quiet camera: idle costs nothing


@pytest.mark.slow
def test_the_cold_start_is_measured_when_not_given():
    result = CliRunner().invoke(cli, ["simulate", "--trace", "burst:3", "--policies", "lambda"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "(measured: handler import + model load)" in result.output
