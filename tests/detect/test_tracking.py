"""Objects, not detections: the tracker on real footage and on detections fed to it, zones, min_frames."""

from __future__ import annotations

import pytest

from edgecloud.config import DetectorSettings
from edgecloud.detect import create_detector
from edgecloud.pipeline import analyse_clip
from edgecloud.protocol.messages import Detection
from edgecloud.tracking import ObjectTracker
from edgecloud.zones import Zones

from .conftest import CLIP_ID

LEFT = [(0, 0), (0.5, 0), (0.5, 1), (0, 1)]
RIGHT = [(0.5, 0), (1, 0), (1, 1), (0.5, 1)]
CORNER = [(0, 0), (0.05, 0), (0.05, 0.05)]  # the sky above the path: nobody stands there
WIDTH, HEIGHT = 768, 576


@pytest.fixture(scope="module")
def yolo():
    return create_detector(DetectorSettings())


def analyse(path, detector, settings=None, **kw):
    return analyse_clip(path, detector, settings or DetectorSettings(), clip_id=CLIP_ID, processed_by="test", **kw)


def person(t: float, x: float, y: float = 200, score: float = 0.8, w: float = 32, h: float = 80) -> Detection:
    return Detection(t=t, frame=int(t * 10), label="person", score=score, box=(x, y, x + w, y + h))


def walk(tracker: ObjectTracker, frames: list[list[Detection]], every_s: float = 0.5) -> None:
    for n, found in enumerate(frames):
        tracker.update(n * every_s, found, WIDTH, HEIGHT)


def test_each_walker_is_one_object_across_the_sampled_frames(vtest_mp4, yolo):
    result = analyse(vtest_mp4, yolo, zones={"left": LEFT, "right": RIGHT, "corner": CORNER})

    people = [o for o in result.objects if o.label == "person"]
    per_frame = sum(1 for d in result.detections if d.label == "person")
    summary = result.summary["person"]
    assert summary.unique == len(people) and 2 <= len(people) < per_frame  # each walker counted once, not per frame
    assert max(o.frames for o in people) >= 5  # followed through most of the 10 sampled frames
    assert [o.track_id for o in result.objects] == list(range(1, len(result.objects) + 1))
    assert [o.first_seen_s for o in result.objects] == sorted(o.first_seen_s for o in result.objects)
    for o in result.objects:
        assert o.frames >= 2 and o.first_seen_s <= o.best_frame_s <= o.last_seen_s <= 4.5
        assert any(
            d.box == o.best_box and d.score == o.best_score and d.t == o.best_frame_s for d in result.detections
        )  # its best box is one of the clip's detections
    assert sum(s.unique for s in result.summary.values()) == len(result.objects)
    # The walkers cross both halves of the path and none stands in the sky.
    assert set().union(*(o.zones for o in people)) == {"left", "right"}
    for o in result.objects:
        x1, _, x2, _ = o.best_box
        assert ("left" if (x1 + x2) / 2 < WIDTH / 2 else "right") in o.zones  # where it stood at its best
    # The car parked at the top right never moves; the walkers do.
    parked = [o for o in result.objects if o.label in ("car", "truck")]
    assert parked and all(o.stationary for o in parked)
    assert not any(o.stationary for o in people if o.frames >= 5)


@pytest.mark.parametrize("step", [16, 32])  # half its width, or all of it, every 0.5 s (2 fps sampling)
def test_a_one_frame_flicker_is_no_object(step):
    tracker = ObjectTracker(min_frames=2)
    frames = [[person(n * 0.5, 100 + step * n)] for n in range(6)]
    frames[3].append(person(1.5, 600, 400, score=0.9))  # seen once, far from the walker
    walk(tracker, frames)

    (walker,) = tracker.objects()
    assert (walker.label, walker.frames, walker.first_seen_s, walker.last_seen_s) == ("person", 6, 0.0, 2.5)
    assert not walker.stationary

    everything = ObjectTracker(min_frames=1)
    walk(everything, frames)
    assert [o.frames for o in everything.objects()] == [6, 1]  # the flicker is an object only at min_frames 1


def test_a_walker_the_detector_misses_for_a_second_keeps_its_id():
    tracker = ObjectTracker()
    frames = [[person(n * 0.5, 100 + 16 * n)] if n not in (3, 4) else [] for n in range(8)]
    walk(tracker, frames)

    (walker,) = tracker.objects()
    assert walker.frames == 6 and walker.last_seen_s == 3.5


def test_min_frames_decides_what_counts(vtest_mp4, yolo):
    frames = [[person(n * 0.5, 100 + 16 * n)] for n in range(4)]
    four = ObjectTracker(min_frames=4)
    walk(four, frames)
    five = ObjectTracker(min_frames=5)
    walk(five, frames)
    assert [o.frames for o in four.objects()] == [4] and five.objects() == []

    strict = analyse(vtest_mp4, yolo, DetectorSettings(min_frames=11))  # more than the 10 analysed frames
    assert strict.detections and strict.objects == [] and strict.summary["person"].unique == 0
    assert strict.labels == analyse(vtest_mp4, yolo).labels  # what was detected stays as it was


def test_an_object_is_in_a_zone_where_it_stands():
    zones = Zones({"driveway": [(0, 0.66), (1, 0.66), (1, 1), (0, 1)], "door": [(0.8, 0), (1, 0), (1, 0.5)]})
    assert zones.of((100, 300, 140, 400), WIDTH, HEIGHT) == {"driveway"}  # feet at y 400/576 = 0.69
    assert zones.of((100, 100, 140, 370), WIDTH, HEIGHT) == set()  # its body overlaps, its feet (0.64) do not
    assert zones.of((700, 10, 760, 100), WIDTH, HEIGHT) == {"door"}
    assert zones.of((0, 500, 10, 576), WIDTH, HEIGHT) == {"driveway"}  # on the edge of the frame counts
    assert not Zones() and Zones().of((0, 0, 1, 1), WIDTH, HEIGHT) == set()


def test_an_objects_zones_are_every_zone_it_entered():
    tracker = ObjectTracker(zones={"left": LEFT, "right": RIGHT})
    walk(tracker, [[person(n * 0.5, 300 + 40 * n, w=40)] for n in range(6)])  # from x 320 to x 520 of 768

    (walker,) = tracker.objects()
    assert walker.zones == ["left", "right"]
