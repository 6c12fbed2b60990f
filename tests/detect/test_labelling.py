"""Raw output -> labels, once for every backend; the registry and its errors."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from edgecloud.config import DetectorSettings
from edgecloud.detect import (
    Backend,
    Detector,
    DetectorUnavailable,
    RawDetections,
    available_backends,
    create_detector,
    label_of,
    parse_name,
)


class FixedBackend(Backend):
    """Returns the same raw output for every frame."""

    key = "fixed"
    labelmap = ("__background__", "person", "N/A", "car")

    def infer(self, frames):
        raw = RawDetections(
            boxes=np.array(
                [[0, 0, 10, 20], [1, 1, 5, 5], [2, 2, 8, 8], [3, 3, 9, 9], [4, 4, 6, 6], [5, 5, 7, 7]], np.float32
            ),
            scores=np.array([0.9, 0.95, 0.8, 0.7, 0.4, 0.99], np.float32),
            classes=np.array([1, 0, 2, 3, 1, 9]),
        )
        return [raw for _ in frames]


def detector(**settings):
    s = DetectorSettings(**settings)
    return Detector(FixedBackend(None, s), s, name="fixed")


def test_background_placeholders_unknown_ids_and_low_scores_are_dropped():
    [boxes] = detector(min_score=0.5).detect([np.zeros((4, 4, 3), np.uint8)])
    assert [(b.label, b.score, b.box) for b in boxes] == [
        ("person", 0.9, (0.0, 0.0, 10.0, 20.0)),
        ("car", 0.7, (3.0, 3.0, 9.0, 9.0)),
    ]


def test_min_score_and_label_filter():
    assert [b.label for b in detector(min_score=0.3).detect([np.zeros((4, 4, 3))])[0]] == ["person", "car", "person"]
    assert [b.label for b in detector(min_score=0.3, labels=["car"]).detect([np.zeros((4, 4, 3))])[0]] == ["car"]
    assert detector().detect([]) == []
    assert len(detector().detect([np.zeros((4, 4, 3))] * 3)) == 3


def test_label_of():
    assert label_of(("__background__", "person"), 1) == "person"
    assert label_of(("__background__", "person"), 0) is None
    assert label_of(("person",), 5) is None and label_of(("person",), -1) is None


def test_parse_name():
    assert parse_name("hog") == ("hog", None)
    assert parse_name("torchvision:fcos_resnet50_fpn") == ("torchvision", "fcos_resnet50_fpn")


def test_unknown_backend_names_the_choices():
    with pytest.raises(DetectorUnavailable, match="hog.*opencv-dnn.*torchvision"):
        create_detector(DetectorSettings(name="yolo9000"))


def test_without_torch_hog_still_starts_and_torchvision_says_what_to_install(monkeypatch, caplog):
    monkeypatch.delitem(sys.modules, "edgecloud.detect.torchvision_models", raising=False)
    monkeypatch.setitem(sys.modules, "torch", None)  # import torch now raises ImportError

    with pytest.raises(DetectorUnavailable, match=r"pip install 'edgecloud\[torch\]'"):
        create_detector(DetectorSettings(name="torchvision:ssdlite320_mobilenet_v3_large"))
    status = available_backends()
    assert status["hog"] is None and "torch" in status["torchvision"]
    assert "torchvision skipped" in caplog.text
    assert create_detector(DetectorSettings(name="hog")).name == "hog"
