"""``edgecloud bench sampling``: its arithmetic on made-up clips, and the command on real footage."""
from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgecloud.bench.sampling import ClipFrames, sweep
from edgecloud.cli import cli
from edgecloud.jobs import Detection


def _clip(people_per_frame: list[int], naive_s: float = 0.1, pipeline_s: float = 0.05) -> ClipFrames:
    """A clip whose both inputs see ``n`` people in each frame."""
    clip = ClipFrames("made-up.mp4", fps=10.0, decode_s=0.5)
    for index, n in enumerate(people_per_frame):
        found = [Detection(t=index / 10, frame=index, label="person", score=0.9, box=(0, 0, 1, 1))] * n
        for source, seconds in (("naive", naive_s), ("pipeline", pipeline_s)):
            clip.found[source].append(found)
            clip.seconds[source].append(seconds)
    return clip


def test_sampling_misses_a_peak_between_its_frames_and_the_speedup_counts_decode():
    # Peak of 4 on frame 1 only: every 2nd frame from frame 0 sees at most 1 (off by 3), from frame 1 sees it.
    clips = [_clip([1, 4, 1, 1]), _clip([2, 2, 2, 2])]
    rows = {(r["reference"], r["sampled"], r["step"]): r for r in sweep(clips, [1, 2], 1.5, 0.95)}
    assert rows["naive", "naive", 1]["agreement_by_phase"] == [1.0]
    assert rows["naive", "naive", 2]["agreement_by_phase"] == [0.5, 1.0]
    assert rows["naive", "naive", 2]["agreement_worst_phase"] == 0.5 and not rows["naive", "naive", 2]["meets_both"]
    # naive: 2 clips x (0.5 decode + 4 x 0.1) = 1.8 s; pipeline every 2nd frame: 2 x (0.5 + 2 x 0.05) = 1.2 s
    assert rows["naive", "pipeline", 2]["speedup_floor"] == pytest.approx(1.5)
    assert rows["naive", "naive", 1]["speedup_floor"] == 1.0
    assert rows["naive", "pipeline", 2]["sample_fps"] == 5.0


def test_a_row_meets_both_bars_only_when_every_phase_does():
    steady = [_clip([3] * 10) for _ in range(3)]
    row = next(r for r in sweep(steady, [5], 2.0, 0.95) if r["sampled"] == "pipeline" and r["reference"] == "naive")
    assert row["agreement_by_phase"] == [1.0] * 5 and row["speedup_floor"] > 2.0 and row["meets_both"]


@pytest.mark.slow
def test_bench_sampling_command_on_real_footage(tmp_path, vtest_mp4):
    out = tmp_path / "sampling.json"
    result = CliRunner().invoke(cli, ["bench", "sampling", "--video", str(vtest_mp4), "--clip-seconds", "2.5",
                                      "--limit-clips", "2", "--step", "1", "--step", "5", "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["detector"] == "darknet:yolov3-tiny" and report["clips"] == 2 and report["frames"] == 50
    assert all(v > 0 for v in report["ms_per_frame"].values())
    rows = {(r["reference"], r["sampled"], r["step"]): r for r in report["rows"]}
    assert len(rows) == 8
    for source in ("naive", "pipeline"):
        assert rows[source, source, 1]["agreement_by_phase"] == [1.0]  # every frame of itself
        assert len(rows["naive", source, 5]["agreement_by_phase"]) == 5
    assert rows["naive", "naive", 1]["speedup_floor"] == 1.0
    assert rows["naive", "pipeline", 5]["speedup_floor"] > rows["naive", "naive", 5]["speedup_floor"] > 2
    assert all("person" in c["naive_every_frame"] for c in report["per_clip"])
    assert "any step meeting" in result.output
