"""Snapshots: the most telling frame of a real clip, boxes drawn, within 100 KB at 720p."""

from __future__ import annotations

import cv2
import numpy as np

from edgecloud.config import DetectorSettings
from edgecloud.detect import create_detector
from edgecloud.pipeline import analyse_clip
from edgecloud.protocol.keys import snapshot_key
from edgecloud.protocol.messages import Detection
from edgecloud.snapshot import MAX_BYTES, BestFrame, is_jpeg, render

CLIP_ID = "20260101T000000000Z_pi-01_0000abcd"


def test_the_pipeline_writes_the_frame_with_most_detections(tmp_path, vtest_mp4):
    settings = DetectorSettings()
    snap = tmp_path / "snapshot.jpg"
    result = analyse_clip(
        vtest_mp4, create_detector(settings), settings, clip_id=CLIP_ID, processed_by="edge", snapshot_path=snap
    )
    assert result.status == "done" and "person" in result.labels
    assert result.snapshot_key == snapshot_key(CLIP_ID) == "snapshots/pi-01/2026/01/01/" + CLIP_ID + ".jpg"
    data = snap.read_bytes()
    assert is_jpeg(data) and len(data) <= MAX_BYTES
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (576, 768, 3)
    assert "snapshot" in result.timings


def test_without_a_path_no_snapshot_is_made(tmp_path, vtest_mp4):
    settings = DetectorSettings()
    result = analyse_clip(vtest_mp4, create_detector(settings), settings, clip_id=CLIP_ID, processed_by="edge")
    assert result.snapshot_key is None


def test_best_frame_prefers_more_detections_then_higher_scores():
    best = BestFrame()
    frames = [np.full((4, 4, 3), v, np.uint8) for v in (1, 2, 3)]
    det = lambda s: Detection(t=0, frame=0, label="person", score=s, box=(0, 0, 1, 1))  # noqa: E731
    best.offer(frames[0], [det(0.9)])
    best.offer(frames[1], [det(0.6), det(0.6)])
    best.offer(frames[2], [det(0.5), det(0.5)])
    assert best.image[0, 0, 0] == 2 and len(best.detections) == 2


def test_a_busy_720p_frame_stays_within_budget(vtest_avi):
    cap = cv2.VideoCapture(str(vtest_avi))
    ok, frame = cap.read()
    cap.release()
    assert ok
    frame = cv2.resize(frame, (1280, 720))
    noisy = np.clip(frame.astype(np.int16) + np.random.default_rng(0).integers(-40, 40, frame.shape), 0, 255)
    boxes = [Detection(t=0, frame=0, label="person", score=0.8, box=(x, 100, x + 80, 300)) for x in range(0, 1200, 100)]
    data = render(noisy.astype(np.uint8), boxes)
    assert is_jpeg(data) and len(data) <= MAX_BYTES
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape[1] <= 1280


def test_the_demo_footage_at_720p_fits_at_the_first_quality(vtest_avi):
    cap = cv2.VideoCapture(str(vtest_avi))
    ok, frame = cap.read()
    cap.release()
    boxes = [Detection(t=0, frame=0, label="person", score=0.8, box=(x, 100, x + 80, 300)) for x in range(0, 1200, 200)]
    data = render(cv2.resize(frame, (1280, 720)), boxes)
    assert cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR).shape == (720, 1280, 3)
    assert len(data) <= MAX_BYTES


def test_a_label_at_the_right_edge_stays_inside_the_picture():
    """A box touching the right edge: its 'truck 0.50' label is drawn whole, shifted left, not cut."""
    frame = np.zeros((360, 640, 3), np.uint8)
    truck = Detection(t=0, frame=0, label="truck", score=0.5, box=(600, 100, 639, 200))
    picture = cv2.imdecode(np.frombuffer(render(frame, [truck]), np.uint8), cv2.IMREAD_COLOR)
    (text_w, text_h), _ = cv2.getTextSize("truck 0.50", cv2.FONT_HERSHEY_SIMPLEX, 0.9, 2)
    band_row = picture[100 - text_h // 2 - 4].astype(int)  # through the label's filled band, above the box
    coloured = np.flatnonzero(np.abs(band_row - (220, 220, 40)).sum(axis=1) < 60)
    assert coloured.size and coloured.max() >= 630
    assert coloured.max() - coloured.min() >= text_w  # the whole text's width fits in the picture
