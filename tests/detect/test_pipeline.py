"""analyse_clip on real footage: what it finds, what it skips, and how it fails."""

from __future__ import annotations

import hashlib

import pytest

from edgecloud.detect import create_detector
from edgecloud.pipeline import analyse_clip, naive_detect

from .conftest import CLIP_ID


@pytest.fixture(scope="module")
def hog():
    from edgecloud.config import DetectorSettings

    return create_detector(DetectorSettings(name="hog"))


def analyse(path, detector, settings, **kw):
    return analyse_clip(path, detector, settings, clip_id=CLIP_ID, processed_by="edge", **kw)


def test_hog_finds_the_pedestrians_in_an_mp4(vtest_mp4, hog, detector_settings):
    result = analyse(vtest_mp4, hog, detector_settings, timings={"download": 0.25})

    assert result.status == "done" and result.error is None
    assert result.detector == "hog" and result.processed_by == "edge" and result.clip_id == CLIP_ID
    assert result.labels == "person"
    assert 2 <= result.summary["person"].max_count <= 8
    # 5 s at 10 fps sampled at 2 fps; people walk the whole time, so the motion gate keeps all 10.
    assert (result.frames_total, result.frames_analysed, result.frames_skipped) == (50, 10, 40)
    assert {d.frame for d in result.detections} <= set(range(0, 50, 5))
    for d in result.detections:
        assert d.t == pytest.approx(d.frame / 10)
        x1, y1, x2, y2 = d.box
        assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 576
        assert d.score >= detector_settings.min_score
    assert {"download", "decode", "motion", "detect", "total"} <= set(result.timings)
    assert result.timings["download"] == 0.25 and result.timings["total"] >= 0.25
    assert result.started_at <= result.finished_at


def test_raw_h264_takes_the_frame_rate_from_the_job(vtest_h264, hog, detector_settings):
    result = analyse(vtest_h264, hog, detector_settings, fps=10)

    assert result.status == "done" and result.labels == "person"
    assert result.frames_total == 50 and result.frames_analysed == 10
    assert max(d.t for d in result.detections) == pytest.approx(4.5)


def test_avi_sampled_sparsely(vtest_avi, hog, detector_settings):
    settings = detector_settings.model_copy(update={"sample_fps": 0.25})
    result = analyse(vtest_avi, hog, settings)

    assert result.status == "done" and result.labels == "person"
    assert result.frames_total == 795
    assert result.frames_analysed == 20  # one frame every 4 s of 79.5 s


def test_still_scene_analyses_the_first_frame_and_one_per_second(still_clip, hog, detector_settings):
    settings = detector_settings.model_copy(update={"sample_fps": 5})
    result = analyse(still_clip, hog, settings)

    assert result.status == "done"
    assert result.frames_total == 40
    assert result.frames_analysed == 4 and result.frames_skipped == 36
    assert {d.frame for d in result.detections} == {0, 10, 20, 30}
    assert result.labels == "person"


def test_without_the_motion_gate_every_sampled_frame_is_analysed(still_clip, hog, detector_settings):
    settings = detector_settings.model_copy(update={"sample_fps": 5, "motion_gate": False})
    result = analyse(still_clip, hog, settings)

    assert result.frames_analysed == 20
    assert {d.frame for d in result.detections} == set(range(0, 40, 2))


def test_label_filter_applies_to_the_result(vtest_mp4, detector_settings):
    # YOLOv3-tiny sees people, a van (truck) and a car here; only the car is kept.
    settings = detector_settings.model_copy(update={"name": "darknet:yolov3-tiny", "labels": ["car"]})
    result = analyse(vtest_mp4, create_detector(settings), settings)

    assert result.status == "done" and result.labels == "car" and {d.label for d in result.detections} == {"car"}
    assert result.frames_analysed == 10


@pytest.mark.slow
def test_pipeline_agrees_with_the_naive_way(vtest_mp4, hog, detector_settings):
    naive = naive_detect(vtest_mp4, hog)
    piped = analyse(vtest_mp4, hog, detector_settings)

    assert {d.frame for d in naive} == set(range(50))
    naive_max = max(sum(1 for d in naive if d.frame == f) for f in range(50))
    assert abs(naive_max - piped.summary["person"].max_count) <= 1


def _truncated(tmp_path, source):
    path = tmp_path / "truncated.mp4"
    path.write_bytes(source.read_bytes()[:2000])
    return path


@pytest.mark.parametrize(
    "make, why",
    [
        (lambda tmp, src: tmp / "missing.mp4", "not found"),
        (lambda tmp, src: (tmp / "empty.mp4").write_bytes(b"") and None or tmp / "empty.mp4", "empty"),
        (lambda tmp, src: (tmp / "notes.mp4").write_text("not a video\n" * 50) and tmp / "notes.mp4", ""),
        (lambda tmp, src: (tmp / "noise.h264").write_bytes(bytes(range(256)) * 64) and tmp / "noise.h264", ""),
        (_truncated, ""),
    ],
)
def test_a_bad_clip_fails_with_a_reason(tmp_path, vtest_mp4, hog, detector_settings, make, why):
    path = make(tmp_path, vtest_mp4)

    result = analyse(path, hog, detector_settings, fps=10, timings={"download": 0.1})

    assert result.status == "failed"
    assert result.error and why in result.error
    assert result.frames_analysed == 0 and result.detections == [] and result.labels == ""
    assert result.detector == "hog" and result.timings["download"] == 0.1


class Recorder:
    """Not a Detector: any object with ``name`` and ``detect()`` will do. Notes each image it is handed."""

    name = "recorder"

    def __init__(self):
        self.seen = []  # (shape, SHA-1 of the pixels)

    def detect(self, images):
        self.seen += [(image.shape, hashlib.sha1(image.tobytes()).hexdigest()) for image in images]
        return [[] for _ in images]


class FullSizeRecorder(Recorder):
    """Wants frames at full size, as HOG does, so the pipeline cuts motion regions for it."""

    def input_side(self, max_side):
        return None


def test_any_object_with_name_and_detect_will_do(vtest_mp4, detector_settings):
    fake = Recorder()
    result = analyse(vtest_mp4, fake, detector_settings)

    assert result.status == "done" and result.detector == "recorder" and result.labels == ""
    shapes = [shape for shape, _ in fake.seen]
    assert len(shapes) == 10 and set(shapes) == {(480, 640, 3)}  # shrunk to max_side


def test_decoding_ahead_in_a_thread_changes_nothing_but_time(vtest_mp4, detector_settings):
    ahead, inline = FullSizeRecorder(), FullSizeRecorder()
    results = [
        analyse(vtest_mp4, ahead, detector_settings.model_copy(update={"prefetch": True})),
        analyse(vtest_mp4, inline, detector_settings.model_copy(update={"prefetch": False})),
    ]

    assert ahead.seen == inline.seen and len(ahead.seen) > 10  # the same frames and regions, in the same order
    assert any(shape != (576, 768, 3) for shape, _ in ahead.seen)  # regions were cut, not only whole frames
    assert len({(r.frames_total, r.frames_analysed) for r in results}) == 1


def test_a_detector_error_propagates_and_stops_the_decode_thread(vtest_avi, detector_settings):
    import threading

    class Broken:
        name = "broken"

        def detect(self, frames):
            raise RuntimeError("model exploded")

    settings = detector_settings.model_copy(update={"batch_size": 1})
    with pytest.raises(RuntimeError, match="model exploded"):
        analyse(vtest_avi, Broken(), settings)  # ~160 sampled frames: more than the decode queue holds
    assert not [t for t in threading.enumerate() if t.name == "decode"]


@pytest.mark.parametrize("batch_size", [1, 1000])  # a detector call inside the frame loop, and the last batch's
def test_an_opencv_error_in_the_detector_is_a_detector_fault_not_a_failed_clip(
    vtest_mp4, detector_settings, batch_size
):
    import cv2

    class CvBroken:
        name = "cv-broken"

        def detect(self, frames):
            raise cv2.error("dnn: layer shape mismatch")

    settings = detector_settings.model_copy(update={"batch_size": batch_size})
    # Raised (the worker retries the job), not returned as a final "decoding failed".
    with pytest.raises(RuntimeError, match="detector cv-broken failed: .*layer shape mismatch"):
        analyse(vtest_mp4, CvBroken(), settings)
