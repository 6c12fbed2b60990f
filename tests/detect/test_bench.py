"""The benchmark and evaluation tools: their arithmetic, and both commands end to end on real footage."""

from __future__ import annotations

import csv
import json
from types import SimpleNamespace as D

import pytest
from click.testing import CliRunner

from edgecloud.bench.footage import cut_clips
from edgecloud.bench.metrics import Tally, iou, match_frame
from edgecloud.bench.sampling import agrees
from edgecloud.cli import cli
from edgecloud.video import open_clip


def test_the_sampling_sweeps_peak_rule_is_same_labels_and_peaks_within_one():
    assert agrees({"person": 5}, {"person": 4})
    assert not agrees({"person": 5}, {"person": 3})
    assert not agrees({"person": 2}, {"person": 2, "car": 1})
    assert agrees({}, {})


def test_iou_and_matching():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(1 / 3)
    assert iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0
    reference = [
        D(label="person", box=(0, 0, 10, 20)),
        D(label="person", box=(50, 0, 60, 20)),
        D(label="car", box=(100, 100, 140, 120)),
    ]
    found = [
        D(label="person", score=0.9, box=(1, 0, 10, 20)),  # match
        D(label="person", score=0.8, box=(0, 0, 10, 19)),  # duplicate of the same person: false positive
        D(label="car", score=0.7, box=(50, 0, 60, 20)),  # right place, wrong label
    ]
    tally = match_frame(found, reference)
    assert (tally.tp, tally.fp, tally.fn) == (1, 2, 2)
    assert tally.precision == pytest.approx(1 / 3) and tally.recall == pytest.approx(1 / 3)
    assert tally.f1 == pytest.approx(1 / 3)
    assert Tally().f1 == 1.0  # nothing to find and nothing found: perfect agreement


def test_cut_clips_keeps_every_frame(tmp_path, vtest_mp4):
    clips = cut_clips([vtest_mp4], 2.0, tmp_path)  # 5 s: 2 s + 2 s + 1 s (half a clip is kept)
    counts = []
    for clip in clips:
        with open_clip(clip) as opened:
            counts.append(sum(1 for _ in opened.frames()))
    assert counts == [20, 20, 10]
    assert cut_clips([vtest_mp4], 2.0, tmp_path / "limited", limit=1)[0].name == "vtest-5s-000.mp4"


@pytest.mark.slow
def test_bench_detect_command(tmp_path, vtest_avi):
    # One 5 s clip of vtest.avi, the one hand-counted as vtest-000: every figure on real results.
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        cli, ["bench", "detect", "--video", str(vtest_avi), "--limit-clips", "1", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert {
        "detector",
        "clips",
        "speedup_vs_naive",
        "ratio_to_decode",
        "clips_per_s",
        "agreement_labels",
        "agreement_counts",
        "counting_error",
    } <= set(report)
    assert report["detector"] == "darknet:yolov3-tiny" and report["clips"] == 1 and report["weights"] == "trained"
    by_mode = report["clips_per_s_by_mode"]
    assert report["clips_per_s"] == by_mode["pipeline"]
    assert report["speedup_vs_naive"] == pytest.approx(by_mode["pipeline"] / by_mode["naive"], rel=0.02)
    assert report["ratio_to_decode"] == pytest.approx(by_mode["decode"] / by_mode["pipeline"], rel=0.02)
    assert set(report["mean"]) >= {"speedup_vs_naive", "ratio_to_decode", "clips_per_s"}
    assert report["frames_total"] == 50 and report["frames_analysed"] < 50
    # 10 fps sampled at 2: five phases, each a fraction of the one clip agreeing
    assert report["tracked"] and report["phases"] == 5
    for name in ("agreement_labels", "agreement_counts"):
        assert len(report[f"{name}_by_phase"]) == 5 and set(report[f"{name}_by_phase"]) <= {0.0, 1.0}
        assert report[name] == min(report[f"{name}_by_phase"])
    [clip] = report["per_clip"]
    assert clip["naive_peak"]["person"] >= 2 and clip["tracked"]["person"] >= 2
    assert [p["phase"] for p in clip["phases"]] == [0, 1, 2, 3, 4] and clip["phases"][0]["sampled"] == clip["tracked"]
    error = report["counting_error"]
    assert error["clips"] == 1 and error["per_clip"][0]["counted_by_hand"] == 6
    assert error["tracked_mae"] == abs(clip["tracked"]["person"] - 6)
    assert error["naive_peak_mae"] == abs(clip["naive_peak"]["person"] - 6)
    assert "agreement_counts" in result.output and "naive per-frame peak" in result.output


def test_bench_detect_says_when_weights_are_random(tmp_path, vtest_mp4, monkeypatch):
    from edgecloud.bench import models as bench_models
    from edgecloud.detect import DetectorUnavailable

    real = bench_models.create_detector

    def offline(settings):
        if settings.pretrained:
            raise DetectorUnavailable(
                "trained weights for torchvision:ssdlite320_mobilenet_v3_large are not in the cache"
            )
        return real(settings)

    monkeypatch.setattr(bench_models, "create_detector", offline)
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "detect",
            "--video",
            str(vtest_mp4),
            "--clip-seconds",
            "1",
            "--limit-clips",
            "1",
            "--no-naive",
            "--json",
            str(out),
            "--detector",
            "torchvision:ssdlite320_mobilenet_v3_large",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "RANDOM weights" in result.output
    assert json.loads(out.read_text())["weights"].startswith("random")


@pytest.mark.slow
def test_eval_writes_csv_and_chart_and_reuses_its_reference(tmp_path, vtest_mp4):
    models = ["hog", "hog:daimler", "haar:fullbody"]
    args = [
        "eval",
        *[a for m in models for a in ("--model", m)],
        "--resize",
        "100",
        "--resize",
        "50",
        "--quality",
        "0",
        "--quality",
        "50",
        "--frames",
        "2",
        "--video",
        str(vtest_mp4),
    ]
    result = CliRunner().invoke(cli, [*args, "--reference", "hog", "--out", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output

    rows = list(csv.DictReader((tmp_path / "a" / "eval.csv").open()))
    assert [(r["model"], r["resize_pct"], r["jpeg_quality"]) for r in rows] == [
        (m, pct, q) for m in models for pct in ("100", "50") for q in ("0", "50")
    ]
    reference_row = rows[0]
    assert float(reference_row["f1"]) == 1.0 and float(reference_row["bytes_saved_pct"]) == 0.0
    assert all(float(r["bytes_saved_pct"]) > 50 for r in rows if r["jpeg_quality"] == "50")
    assert (tmp_path / "a" / "eval.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    labels = tmp_path / "a" / "reference.json"
    again = CliRunner().invoke(
        cli,
        [
            "eval",
            "--model",
            "hog",
            "--frames",
            "2",
            "--video",
            str(vtest_mp4),
            "--labels",
            str(labels),
            "--out",
            str(tmp_path / "b"),
        ],
    )
    assert again.exit_code == 0, again.output
    [row] = list(csv.DictReader((tmp_path / "b" / "eval.csv").open()))
    assert float(row["f1"]) == 1.0


def test_eval_reference_defaults_to_the_largest_model(tmp_path, vtest_mp4):
    result = CliRunner().invoke(
        cli,
        [
            "eval",
            "--model",
            "hog:daimler",
            "--model",
            "hog",
            "--frames",
            "1",
            "--video",
            str(vtest_mp4),
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "reference: hog\n" in result.output  # 3781 SVM weights against Daimler's 1981
    rows = {r["model"]: r for r in csv.DictReader((tmp_path / "eval.csv").open())}
    assert float(rows["hog"]["f1"]) == 1.0
