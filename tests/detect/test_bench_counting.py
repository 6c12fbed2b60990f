"""``bench detect`` on the user's terms: agreement on tracked counts per phase, and the counting error against
people counted by hand."""
from __future__ import annotations

import json

import pytest

from edgecloud.bench.counting import agreement_by_phase, agreements, counting_error, counts_within, same_labels
from edgecloud.bench.footage import cut_clips
from edgecloud.bench.groundtruth import PEOPLE, people_counted
from edgecloud.video import open_clip


def test_labels_agree_on_the_set_found_and_counts_within_one_either_way():
    assert same_labels({"person": 5, "car": 1}, {"car": 2, "person": 1})
    assert not same_labels({"person": 5}, {"person": 5, "car": 1})
    assert same_labels({"person": 3, "dog": 0}, {"person": 3})  # a label counted 0 was not found
    assert counts_within({"person": 5}, {"person": 4}) and counts_within({"person": 4}, {"person": 5})
    assert not counts_within({"person": 5}, {"person": 3})
    # a label one side lacks counts 0 there: one car too many is within one, two are not
    assert counts_within({"person": 2}, {"person": 2, "car": 1}) and not same_labels({"person": 2}, {"person": 2, "car": 1})
    assert not counts_within({"person": 2}, {"person": 2, "car": 2})
    assert same_labels({}, {}) and counts_within({}, {})


def test_agreement_is_reported_in_the_worst_phase():
    ok, off_by_two, new_label = ({"person": 4}, {"person": 4}), ({"person": 4}, {"person": 2}), ({"person": 4}, {"person": 4, "car": 1})
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
