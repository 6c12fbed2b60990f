"""Clip ids, S3 keys and message schemas."""
from datetime import datetime, timezone

import pytest

from edgecloud import jobs


def test_clip_id_round_trips_and_sorts_by_time():
    t1 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    t2 = datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc)
    a, b = jobs.new_clip_id("pi-01", t1), jobs.new_clip_id("pi-01", t2)
    assert jobs.parse_clip_id(a) == (t1, "pi-01")
    assert sorted([b, a]) == [a, b]
    assert a != jobs.new_clip_id("pi-01", t1)  # random suffix keeps ids unique


def test_keys_derive_from_the_clip_id_alone():
    clip_id = jobs.new_clip_id("pi-01", datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc))
    assert jobs.clip_key(clip_id, "mp4") == f"clips/pi-01/2026/11/24/{clip_id}.mp4"
    assert jobs.result_key(clip_id) == f"results/pi-01/2026/11/24/{clip_id}.json"


@pytest.mark.parametrize("bad", [
    "", "../../etc/passwd", "20261124T093000000Z_pi-01_zzzzzzzz", "20261124T093000000Z_PI_01_0123abcd",
    "20261124T093000000Z_pi-01_0123abcd/../x", "20261124T093000000Z_pi-01_0123abcd.json",
])
def test_unsafe_or_malformed_ids_are_refused(bad):
    with pytest.raises(jobs.BadClipId):
        jobs.result_key(bad)


@pytest.mark.parametrize("impossible", ["20261399T999999999Z_pi-01_3fa9c2d1", "20260230T000000000Z_pi-01_3fa9c2d1"])
def test_an_id_of_a_time_that_does_not_exist_is_refused(impossible):
    with pytest.raises(jobs.BadClipId, match="names no real time"):
        jobs.parse_clip_id(impossible)
    assert jobs.frame_id_of(f"frames/pi-01/2026/02/30/{impossible}.jpg") is None


def test_bad_device_and_extension_are_refused():
    with pytest.raises(ValueError):
        jobs.new_clip_id("Pi 01")
    with pytest.raises(ValueError):
        jobs.clip_key(jobs.new_clip_id("pi-01"), "exe")


def test_job_message_validates_clip_id():
    now = jobs.utcnow()
    with pytest.raises(ValueError):
        jobs.Job(clip_id="nope", bucket="b", key="k", device_id="pi-01", recorded_at=now, submitted_at=now)


def test_summarise_counts_per_frame_and_best_score():
    dets = [
        jobs.Detection(t=0.0, frame=0, label="person", score=0.6, box=(0, 0, 1, 1)),
        jobs.Detection(t=0.0, frame=0, label="person", score=0.9, box=(2, 2, 3, 3)),
        jobs.Detection(t=0.5, frame=5, label="person", score=0.7, box=(0, 0, 1, 1)),
        jobs.Detection(t=0.5, frame=5, label="car", score=0.8, box=(0, 0, 1, 1)),
    ]
    labels, summary = jobs.summarise(dets)
    assert labels == "car,person"
    assert summary["person"].max_count == 2
    assert summary["person"].frames_seen == 2
    assert summary["person"].best_score == 0.9
    assert summary["car"].max_count == 1
    assert summary["person"].steady_count == 1  # two people in one frame only: one is what two frames showed
    assert summary["car"].steady_count == 0  # seen in a single frame: possibly a flicker


def test_steady_count_is_what_two_frames_showed():
    assert [jobs.steady_count(c) for c in ([], [3], [3, 1], [1, 3, 3], [2, 6, 4, 5])] == [0, 0, 1, 3, 5]

