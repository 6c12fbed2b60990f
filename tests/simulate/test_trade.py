"""Issue 14's rule: on every named trace the `default` policy is a better trade
than each seed policy: never dominated (as fast and as cheap, and better on one),
and no more than 25 % worse on either p95 latency or instance-seconds."""

import json

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli

SEEDS = ("seed-cse546", "seed-classifycloud")
MARGIN = 1.25


def dominated(ours: dict, theirs: dict) -> bool:
    at_least_as_good = theirs["p95_s"] <= ours["p95_s"] and theirs["instance_seconds"] <= ours["instance_seconds"]
    better = theirs["p95_s"] < ours["p95_s"] or theirs["instance_seconds"] < ours["instance_seconds"]
    return at_least_as_good and better


@pytest.mark.parametrize(
    "trace,times",
    [
        ("seed", []),  # the seed project's uploads, with its own 180 s per clip and 60 s boots
        ("burst:200", ["--boot", "60", "--process", "3"]),
        ("diurnal:2:24", ["--boot", "60", "--process", "3"]),
    ],
)
def test_default_is_a_better_trade_than_each_seed(trace, times, tmp_path):
    out = tmp_path / "r.json"
    result = CliRunner().invoke(
        cli,
        ["simulate", "--trace", trace, *times, "--policies", ",".join(("default", *SEEDS)), "--json", str(out)],
        catch_exceptions=False,
    )
    assert result.exit_code == 0, result.output
    rows = json.loads(out.read_text())["policies"]
    ours = rows["default"]
    assert ours["unfinished"] == 0
    for seed in SEEDS:
        theirs = rows[seed]
        assert not dominated(ours, theirs), f"{trace}: {seed} {theirs} dominates default {ours}"
        assert ours["p95_s"] <= MARGIN * theirs["p95_s"], f"{trace}: p95 vs {seed}"
        assert ours["instance_seconds"] <= MARGIN * theirs["instance_seconds"], f"{trace}: cost vs {seed}"


def test_the_seed_trace_no_longer_launches_a_worker_per_clip_twice_over(tmp_path):
    # Issue 14: 19 workers for 9 clips, 3,744 instance-seconds against the seed's 1,920.
    out = tmp_path / "r.json"
    CliRunner().invoke(
        cli, ["simulate", "--trace", "seed", "--policies", "default", "--json", str(out)], catch_exceptions=False
    )
    doc = json.loads(out.read_text())
    assert doc["clips"] == 9 and doc["process"] == "180" and doc["boot"] == "60"
    assert doc["policies"]["default"]["launches"] <= 9


def test_the_rule_itself():
    assert dominated({"p95_s": 2, "instance_seconds": 2}, {"p95_s": 2, "instance_seconds": 1})
    assert not dominated({"p95_s": 2, "instance_seconds": 2}, {"p95_s": 2, "instance_seconds": 2})
    assert not dominated({"p95_s": 1, "instance_seconds": 3}, {"p95_s": 2, "instance_seconds": 2})
