"""``edgecloud bench sampling``: its arithmetic on made-up clips, and the command on real footage."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
from click.testing import CliRunner

from edgecloud.bench.sampling import Bars, ClipFrames, report, sweep
from edgecloud.cli import cli
from edgecloud.protocol.messages import Detection


def _clip(people_per_frame: list[int], naive_s: float = 0.1, pipeline_s: float = 0.05) -> ClipFrames:
    """A clip whose both inputs see ``n`` people in each frame, each standing in their own place."""
    clip = ClipFrames("made-up.mp4", fps=10.0, decode_s=0.5)
    for index, n in enumerate(people_per_frame):
        found = [
            Detection(t=index / 10, frame=index, label="person", score=0.9, box=(100 * k, 0, 100 * k + 50, 100))
            for k in range(n)
        ]
        for source, seconds in (("naive", naive_s), ("pipeline", pipeline_s)):
            clip.found[source].append(found)
            clip.seconds[source].append(seconds)
    return clip


def test_sampling_misses_a_peak_between_its_frames_and_the_speed_figures_count_what_they_say():
    # Peak of 4 on frame 0 only: every 2nd frame from frame 0 sees it, from frame 1 sees at most 1 (off by 3).
    clips = [_clip([4, 1, 1, 1]), _clip([2, 2, 2, 2])]
    rows = {(r["reference"], r["sampled"], r["step"]): r for r in sweep(clips, [1, 2], Bars(speedup=1.5))}
    assert rows["naive", "naive", 1]["agreement_by_phase"] == [1.0]
    assert rows["naive", "naive", 2]["agreement_by_phase"] == [1.0, 0.5]
    assert rows["naive", "naive", 2]["agreement_mean_over_phases"] == 0.75
    # naive: 2 clips x (0.5 decode + 4 x 0.1) = 1.8 s; the pipeline input on every 2nd frame: 2 x 2 x 0.05 = 0.2 s,
    # plus 2 x 0.5 s of decoding for the estimate
    row = rows["naive", "pipeline", 2]
    assert row["speedup_at_most"] == pytest.approx(9.0) and row["speedup_estimate"] == pytest.approx(1.5)
    assert row["sample_fps"] == 5.0
    # the peak rule (shown, no longer a bar): the first phase agrees, the other misses the peak
    assert row["agreement_by_phase"] == [1.0, 0.5]
    assert rows["naive", "naive", 1]["speedup_estimate"] == 1.0


def test_a_row_could_meet_both_bars_when_every_phase_agrees_and_the_detector_leaves_room():
    steady = [_clip([3] * 10) for _ in range(3)]
    rows = {(r["sampled"], r["step"]): r for r in sweep(steady, [1, 5], Bars(speedup=2.0)) if r["reference"] == "naive"}
    assert rows["pipeline", 5]["agreement_counts_by_phase"] == [1.0] * 5 and rows["pipeline", 5]["could_meet_both"]
    assert not rows["naive", 1]["could_meet_both"]  # every frame agrees, but at no speedup


def test_a_row_fails_on_the_tracked_counts_of_its_worst_phase_however_fast():
    # Two people seen on odd frames only: every 2nd frame from frame 0 sees nobody, from frame 1 both.
    clip = ClipFrames("made-up.mp4", fps=10.0, decode_s=0.0)
    for index in range(10):
        found = [
            Detection(t=index / 10, frame=index, label="person", score=0.9, box=(300 * k, 0, 300 * k + 50, 100))
            for k in range(2)
            if index % 2
        ]
        for source in ("naive", "pipeline"):
            clip.found[source].append(found)
            clip.seconds[source].append(0.1)
    rows = {(r["sampled"], r["step"]): r for r in sweep([clip], [1, 2], Bars(speedup=1.5)) if r["reference"] == "naive"}
    fast = rows["pipeline", 2]
    assert fast["speedup_at_most"] == pytest.approx(2.0)
    assert fast["agreement_counts_by_phase"] == [0.0, 1.0] and fast["agreement_labels_by_phase"] == [0.0, 1.0]
    assert not fast["could_meet_both"]
    assert rows["pipeline", 1]["agreement_counts"] == 1.0 and not rows["pipeline", 1]["could_meet_both"]
    easier = {(r["sampled"], r["step"]): r for r in sweep([clip], [2], Bars(speedup=1.5, labels=0.0, counts=0.0))}
    assert easier["pipeline", 2]["could_meet_both"]  # the same row passes bars it reaches


def test_steps_longer_than_a_clip_and_mixed_frame_rates_are_refused():
    with pytest.raises(ValueError, match="longer than the shortest clip"):
        sweep([_clip([1] * 10), _clip([1] * 4)], [5])
    other = _clip([1] * 10)
    other.fps = 30.0
    with pytest.raises(ValueError, match="different frame rates"):
        report(SimpleNamespace(name="x", random_weights=False), [_clip([1] * 10), other], [1])
    with pytest.raises(ValueError, match="no clips"):
        report(SimpleNamespace(name="x", random_weights=False), [], [1])


@pytest.mark.slow
def test_bench_sampling_command_on_real_footage(tmp_path, vtest_mp4):
    out = tmp_path / "sampling.json"
    result = CliRunner().invoke(
        cli,
        [
            "bench",
            "sampling",
            "--video",
            str(vtest_mp4),
            "--clip-seconds",
            "2.5",
            "--limit-clips",
            "2",
            "--step",
            "1",
            "--step",
            "5",
            "--json",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["detector"] == "darknet:yolov3-tiny" and report["clips"] == 2 and report["frames"] == 50
    assert all(v > 0 for v in report["ms_per_frame"].values())
    rows = {(r["reference"], r["sampled"], r["step"]): r for r in report["rows"]}
    assert len(rows) == 8
    for source in ("naive", "pipeline"):
        assert rows[source, source, 1]["agreement_by_phase"] == [1.0]  # every frame of itself
        assert len(rows["naive", source, 5]["agreement_by_phase"]) == 5
    assert rows["naive", "naive", 1]["speedup_estimate"] == 1.0
    for source in ("naive", "pipeline"):  # 5 of 25 frames: more than twice as fast however busy the machine
        assert rows["naive", source, 5]["speedup_at_most"] > rows["naive", source, 5]["speedup_estimate"] > 2
    assert all("person" in c["naive_every_frame"] for c in report["per_clip"])
    assert report["weights"] == "trained" and report["fps"] == 10.0
    assert "could meet" in result.output


def test_rows_also_compare_tracked_objects_the_way_bench_detect_does():
    # A person in all 10 frames; a dog only in frames 0 and 1. From frame 0, every frame sees the dog twice (an
    # object) where every 5th frame sees it once (a flicker): the label sets differ. From a later phase the
    # reference starts later too, and neither counts the dog.
    clip = ClipFrames("made-up.mp4", fps=10.0, decode_s=0.5)
    for index in range(10):
        found = [
            Detection(
                t=index / 10, frame=index, label="person", score=0.9, box=(100 + 5 * index, 100, 130 + 5 * index, 180)
            )
        ]
        if index < 2:
            found.append(Detection(t=index / 10, frame=index, label="dog", score=0.8, box=(400, 300, 440, 330)))
        for source in ("naive", "pipeline"):
            clip.found[source].append(found)
            clip.seconds[source].append(0.1)
    rows = {
        (r["reference"], r["sampled"], r["step"]): r for r in sweep([clip], [1, 5], Bars(speedup=2.0), min_frames=2)
    }
    every, fifth = rows["naive", "naive", 1], rows["naive", "naive", 5]
    assert every["agreement_labels"] == every["agreement_counts"] == 1.0
    assert fifth["agreement_labels_by_phase"] == [0.0, 1.0, 1.0, 1.0, 1.0] and fifth["agreement_labels"] == 0.0
    assert fifth["agreement_counts_by_phase"] == [1.0] * 5  # one dog missing is within one
    # the peak rule sees the dog wherever frame 0 or 1 is sampled: it counts a one-frame sighting as a dog
    assert fifth["agreement_by_phase"] == [1.0, 1.0, 0.0, 0.0, 0.0]
