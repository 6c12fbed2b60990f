"""The contract: clip ids (parsed once), the S3 key layout, statuses and message schemas."""

import json
import pickle
from datetime import datetime, timezone

import pytest

from edgecloud.clock import utcnow
from edgecloud.protocol.ids import BadClipId, ClipId, clip_id_in, new_clip_id, parse_clip_id
from edgecloud.protocol.keys import KeyKind, clip_key, frame_id_of, frame_key, key_of, result_key, snapshot_key
from edgecloud.protocol.labels import steady_count, summarise
from edgecloud.protocol.messages import Detection, Job, Result
from edgecloud.protocol.states import FINAL, ClipStatus, Placement


def test_clip_id_round_trips_and_sorts_by_time():
    t1 = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    t2 = datetime(2026, 1, 2, 3, 4, 6, tzinfo=timezone.utc)
    a, b = new_clip_id("pi-01", t1), new_clip_id("pi-01", t2)
    assert parse_clip_id(a) == (t1, "pi-01")
    assert sorted([b, a]) == [a, b]
    assert a != new_clip_id("pi-01", t1)  # random suffix keeps ids unique


def test_a_clip_id_is_parsed_once_and_carries_its_parts():
    when = datetime(2026, 11, 24, 9, 30, 1, 250000, tzinfo=timezone.utc)
    text = str(new_clip_id("pi-01", when))
    clip_id = ClipId(text)
    assert (clip_id.device, clip_id.recorded_at) == ("pi-01", when)
    assert ClipId(clip_id) is clip_id  # an id checked already is not parsed again
    # Still the string it was: JSON, dict keys and f-strings see no difference.
    assert clip_id == text and json.dumps({"clip_id": clip_id}) == json.dumps({"clip_id": text})
    assert {text: 1}[clip_id] == 1 and f"{clip_id}" == text
    again = pickle.loads(pickle.dumps(clip_id))  # as it crosses to a worker process
    assert isinstance(again, ClipId) and again.device == "pi-01"
    assert clip_id_in(json.dumps({"clip_id": text, "junk": [1]})).recorded_at == when


def test_every_key_is_the_clip_ids_key_of_its_kind_and_round_trips():
    clip_id = ClipId.new("pi-01", datetime(2026, 11, 24, 9, 30, tzinfo=timezone.utc))
    day = "pi-01/2026/11/24"
    assert (
        clip_id.key("clips", "mp4")
        == key_of(clip_id, "clips", "mp4")
        == clip_key(clip_id, "mp4")
        == f"clips/{day}/{clip_id}.mp4"
    )
    assert clip_id.key(KeyKind.RESULTS) == result_key(clip_id) == f"results/{day}/{clip_id}.json"
    assert clip_id.key("snapshots") == snapshot_key(clip_id) == f"snapshots/{day}/{clip_id}.jpg"
    assert clip_id.key("frames") == frame_key(clip_id) == f"frames/{day}/{clip_id}.jpg"
    assert frame_id_of(key_of(clip_id, "frames")) == clip_id  # the key gives back the id it came from
    assert frame_id_of(key_of(clip_id, "snapshots")) is None  # any other kind's key is no frame
    with pytest.raises(ValueError):
        clip_id.key("thumbnails")
    with pytest.raises(ValueError, match="ends in .json"):
        clip_id.key("results", "mp4")


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "../../etc/passwd",
        "20261124T093000000Z_pi-01_zzzzzzzz",
        "20261124T093000000Z_PI_01_0123abcd",
        "20261124T093000000Z_pi-01_0123abcd/../x",
        "20261124T093000000Z_pi-01_0123abcd.json",
        "20261124T093000000Z_pi-01_0123abcd\n",
        None,
        42,
    ],
)
def test_unsafe_or_malformed_ids_are_refused(bad):
    with pytest.raises(BadClipId):
        ClipId(bad)
    with pytest.raises(BadClipId):
        result_key(bad)


@pytest.mark.parametrize(
    "impossible",
    ["20261399T999999999Z_pi-01_3fa9c2d1", "20260230T000000000Z_pi-01_3fa9c2d1", "20261124T256100000Z_pi-01_3fa9c2d1"],
)
def test_an_id_of_a_time_that_does_not_exist_is_refused(impossible):
    with pytest.raises(BadClipId, match="names no real time"):
        ClipId(impossible)
    assert frame_id_of(f"frames/pi-01/2026/02/30/{impossible}.jpg") is None


def test_a_hostile_id_is_echoed_cut_to_80_characters():
    hostile = "20260230T000000000Z_pi-01_3fa9c2d1" + "A" * 4000
    with pytest.raises(BadClipId) as caught:
        ClipId(hostile)
    message = str(caught.value)
    assert len(message) < 200 and "(4036 characters)" in message and "A" * 100 not in message


def test_bad_device_and_extension_are_refused():
    with pytest.raises(ValueError):
        new_clip_id("Pi 01")
    with pytest.raises(ValueError):
        clip_key(new_clip_id("pi-01"), "exe")


def test_job_message_validates_clip_id():
    now = utcnow()
    with pytest.raises(ValueError):
        Job(clip_id="nope", bucket="b", key="k", device_id="pi-01", recorded_at=now, submitted_at=now)


def test_statuses_are_the_strings_on_the_wire():
    assert FINAL == ("done", "failed", "dropped")
    assert "dropped" in FINAL and "queued" not in FINAL  # a status read from a JSON body is checked as it is
    assert (
        json.dumps({"status": ClipStatus.DONE, "placement": Placement.BOTH})
        == '{"status": "done", "placement": "both"}'
    )
    assert (
        Result(clip_id=new_clip_id("pi-01"), processed_by="edge", detector="hog", status=ClipStatus.FAILED).model_dump(
            mode="json"
        )["status"]
        == "failed"
    )


def test_summarise_counts_per_frame_and_best_score():
    dets = [
        Detection(t=0.0, frame=0, label="person", score=0.6, box=(0, 0, 1, 1)),
        Detection(t=0.0, frame=0, label="person", score=0.9, box=(2, 2, 3, 3)),
        Detection(t=0.5, frame=5, label="person", score=0.7, box=(0, 0, 1, 1)),
        Detection(t=0.5, frame=5, label="car", score=0.8, box=(0, 0, 1, 1)),
    ]
    labels, summary = summarise(dets)
    assert labels == "car,person"
    assert summary["person"].max_count == 2
    assert summary["person"].frames_seen == 2
    assert summary["person"].best_score == 0.9
    assert summary["car"].max_count == 1
    assert summary["person"].steady_count == 1  # two people in one frame only: one is what two frames showed
    assert summary["car"].steady_count == 0  # seen in a single frame: possibly a flicker


def test_steady_count_is_what_two_frames_showed():
    assert [steady_count(c) for c in ([], [3], [3, 1], [1, 3, 3], [2, 6, 4, 5])] == [0, 0, 1, 3, 5]
