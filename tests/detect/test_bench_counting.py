"""``bench detect`` on the user's terms: agreement on tracked counts per phase, and the counting error against
people counted by hand."""

from __future__ import annotations

import json

import numpy as np
import pytest

from edgecloud.bench.counting import agreement_by_phase, agreements, counting_error, counts_within, same_labels
from edgecloud.bench.detect import ClipRun, DetectBench, PhaseCounts, phase_count, track_every_frame
from edgecloud.bench.footage import cut_clips, drop_first
from edgecloud.bench.groundtruth import PEOPLE, people_counted
from edgecloud.protocol.messages import Detection
from edgecloud.video import open_clip


def test_labels_agree_on_the_set_found_and_counts_within_one_either_way():
    assert same_labels({"person": 5, "car": 1}, {"car": 2, "person": 1})
    assert not same_labels({"person": 5}, {"person": 5, "car": 1})
    assert same_labels({"person": 3, "dog": 0}, {"person": 3})  # a label counted 0 was not found
    assert counts_within({"person": 5}, {"person": 4}) and counts_within({"person": 4}, {"person": 5})
    assert not counts_within({"person": 5}, {"person": 3})
    # a label one side lacks counts 0 there: one car too many is within one, two are not
    assert counts_within({"person": 2}, {"person": 2, "car": 1}) and not same_labels(
        {"person": 2}, {"person": 2, "car": 1}
    )
    assert not counts_within({"person": 2}, {"person": 2, "car": 2})
    assert same_labels({}, {}) and counts_within({}, {})


def test_agreement_is_reported_in_the_worst_phase():
    ok, off_by_two, new_label = (
        ({"person": 4}, {"person": 4}),
        ({"person": 4}, {"person": 2}),
        ({"person": 4}, {"person": 4, "car": 1}),
    )
    clips = [[ok, ok, off_by_two], [ok, new_label, ok], [ok, ok, ok], [ok, ok, new_label]]
    report = agreements(clips)
    assert report["agreement_labels_by_phase"] == [1.0, 0.75, 0.75]
    assert report["agreement_counts_by_phase"] == [1.0, 1.0, 0.75]
    assert report["agreement_labels"] == 0.75 and report["agreement_counts"] == 0.75  # the worst, not the first
    with pytest.raises(ValueError, match="phases"):
        agreement_by_phase([[ok, ok], [ok]], same_labels)
    assert agreements([])["agreement_counts"] is None


def test_counting_error_is_the_mean_absolute_error_over_the_hand_counted_clips():
    truth = {"v-000": 6, "v-002": 9, "v-004": 8}
    tracked = {"v-000": 7, "v-001": 3, "v-002": 9, "v-004": 5}  # v-001 has no hand count: left out
    peak = {"v-000": 4, "v-001": 2, "v-002": 5, "v-004": 5}
    report = counting_error(truth, tracked, peak)
    assert report["clips"] == 3
    assert report["tracked_mae"] == pytest.approx((1 + 0 + 3) / 3, abs=1e-3)
    assert report["naive_peak_mae"] == pytest.approx((2 + 4 + 3) / 3, abs=1e-3)
    assert [c["clip"] for c in report["per_clip"]] == ["v-000", "v-002", "v-004"]
    assert report["per_clip"][0] == {"clip": "v-000", "counted_by_hand": 6, "tracked": 7, "naive_peak": 4}
    assert counting_error(truth, {"other-000": 1}, {})["tracked_mae"] is None


def test_hand_counts_cover_eight_clips_of_vtest_where_bench_detect_cuts_them(tmp_path, vtest_avi):
    doc = json.loads(PEOPLE.read_text())
    per_clip = round(doc["clip_seconds"] * doc["fps"])
    with open_clip(vtest_avi) as clip:
        assert clip.fps == doc["fps"]
        frames = sum(1 for _ in clip.frames())
    for entry in doc["clips"]:
        first, last = entry["frames"]
        assert (first, last) == (entry["index"] * per_clip, min(first + per_clip, frames) - 1)
        assert entry["people"] > 0 and entry["looked_at"]
    counted = people_counted(doc["clip_seconds"])
    assert len(counted) >= 8 and len(set(counted)) == len(doc["clips"])
    assert people_counted(doc["clip_seconds"] / 2) == {}  # counts for 5 s clips say nothing of 2.5 s ones
    [first_clip] = cut_clips([vtest_avi], doc["clip_seconds"], tmp_path, limit=1)
    assert first_clip.stem in counted  # the name bench detect gives the clip the counts were made for
    with open_clip(first_clip) as clip:
        assert sum(1 for _ in clip.frames()) == per_clip


def _person(frame: int, x: float, score: float = 0.9) -> Detection:
    return Detection(t=frame / 10, frame=frame, label="person", score=score, box=(x, 100, x + 30, 180))


def test_the_reference_tracks_every_frame_with_the_pipelines_tracker():
    walker = [_person(f, 50 + 6 * f) for f in range(20)]  # one person crossing, seen in every frame
    other = [_person(f, 500 - 6 * f) for f in range(5, 20)]  # a second, from frame 5
    flicker = [Detection(t=0.7, frame=7, label="dog", score=0.8, box=(300, 300, 340, 330))]  # one frame: no object
    counts = track_every_frame(walker + other + flicker, range(20), 10.0, min_frames=2)
    assert counts == {"person": 2}
    assert track_every_frame(walker, range(20), 10.0, min_frames=25) == {}  # never seen in 25 frames
    assert track_every_frame(walker[10:], range(10, 20), 10.0, min_frames=2) == {"person": 1}  # a later phase


def test_phases_are_the_frames_between_two_samples():
    assert phase_count(10.0, 2.0) == 5 and phase_count(30.0, 2.0) == 15 and phase_count(25.0, 2.0) == 12
    assert phase_count(2.0, 5.0) == 1 and phase_count(10.0, 10.0) == 1


def _run(name: str, naive_peak: dict, tracked, phases: list[tuple[dict, dict]]) -> ClipRun:
    return ClipRun(
        name,
        50,
        10,
        {"decode": 0.1, "naive": 3.0, "pipeline": 0.5},
        naive_peak,
        tracked,
        [PhaseCounts(i, ref, sampled) for i, (ref, sampled) in enumerate(phases)],
    )


def test_the_report_has_the_users_terms_fields():
    bench = DetectBench("darknet:yolov3-tiny", False, hand_counts={"vtest-000": 6, "vtest-002": 9})
    bench.runs = [
        _run(
            "vtest-000.mp4",
            {"person": 4},
            {"person": 7},
            [({"person": 6}, {"person": 7}), ({"person": 6}, {"person": 4})],
        ),
        _run(
            "vtest-001.mp4",
            {"person": 5},
            {"person": 5, "car": 1},
            [({"person": 5, "car": 1}, {"person": 5, "car": 1}), ({"person": 5, "car": 1}, {"person": 6})],
        ),
    ]
    report = bench.report()
    assert report["phases"] == 2 and report["tracked"] is True
    assert report["agreement_labels_by_phase"] == [1.0, 0.5] and report["agreement_labels"] == 0.5
    assert report["agreement_counts_by_phase"] == [1.0, 0.5] and report["agreement_counts"] == 0.5
    error = report["counting_error"]  # only vtest-000 has a hand count among the clips run
    assert error["clips"] == 1 and error["tracked_mae"] == 1.0 and error["naive_peak_mae"] == 2.0
    assert "agreement" not in report and "agreement_steady" not in report  # the peak rule is retired here
    assert report["per_clip"][1]["phases"][1] == {
        "phase": 1,
        "reference": {"person": 5, "car": 1},
        "sampled": {"person": 6},
        "same_labels": False,
        "counts_within_1": True,
    }


def test_a_run_without_a_tracker_or_a_naive_run_says_it_shows_no_agreement():
    untracked = DetectBench("hog", False, hand_counts={"vtest-000": 6})
    untracked.runs = [_run("vtest-000.mp4", {"person": 4}, None, [])]
    report = untracked.report()
    assert report["tracked"] is False and report["agreement_counts"] is None and report["counting_error"] is None
    no_naive = DetectBench("hog", False)
    no_naive.runs = [_run("vtest-000.mp4", {}, {"person": 3}, [])]
    assert no_naive.report()["phases"] == 0 and no_naive.report()["agreement_labels"] is None


def test_a_clip_from_a_later_phase_drops_its_first_frames(tmp_path, vtest_mp4):
    shifted = drop_first(vtest_mp4, 3, tmp_path / "from-3.mp4")
    with open_clip(vtest_mp4) as whole, open_clip(shifted) as later:
        originals = [f.image for f in whole.frames()]
        frames = [f.image for f in later.frames()]
    assert len(frames) == len(originals) - 3 == 47
    difference = [float(np.abs(frames[0].astype(int) - originals[i].astype(int)).mean()) for i in (0, 3)]
    assert difference[1] < difference[0]  # its first frame is the original's fourth (re-encoded), not its first
