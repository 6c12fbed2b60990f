"""The opencv-dnn backend: a real (tiny) ONNX model through cv2.dnn; Darknet's errors."""

from __future__ import annotations

import numpy as np
import pytest

from edgecloud.config import DetectorSettings
from edgecloud.detect import DetectorUnavailable, create_detector

torch = pytest.importorskip("torch", reason="the fixture exports its model with torch")
pytest.importorskip("onnx", reason="torch.onnx.export needs the onnx package")
# The TorchScript exporter is deprecated but needs no onnxscript; the export is test scaffolding only.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


class TinyYolo(torch.nn.Module):
    """A conv layer and two fixed YOLO rows (cx, cy, w, h, objectness, 80 class scores) in 64x64 input pixels."""

    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)
        rows = torch.zeros(3, 85)
        rows[0, :5] = torch.tensor([32.0, 32.0, 16.0, 32.0, 0.9])
        rows[0, 5 + 0] = 0.9  # person, score 0.81
        rows[1, :5] = torch.tensor([10.0, 10.0, 8.0, 8.0, 0.5])
        rows[1, 5 + 2] = 0.5  # car, score 0.25: under min_score
        rows[2, :5] = torch.tensor([33.0, 32.0, 16.0, 32.0, 0.8])
        rows[2, 5 + 0] = 0.8  # the same person again: suppressed
        self.register_buffer("rows", rows)

    def forward(self, images):
        return self.rows.unsqueeze(0) + 0 * self.conv(images).mean(dim=(1, 2, 3)).view(-1, 1, 1)


@pytest.fixture(scope="module")
def tiny_onnx(tmp_path_factory):
    path = tmp_path_factory.mktemp("onnx") / "tiny-yolo.onnx"
    torch.onnx.export(
        TinyYolo().eval(),
        torch.zeros(1, 3, 64, 64),
        str(path),
        dynamo=False,
        input_names=["images"],
        output_names=["rows"],
        dynamic_axes={"images": {0: "batch"}, "rows": {0: "batch"}},
    )
    return path


def test_onnx_model_runs_through_cv2_dnn(tiny_onnx, real_frames):
    detector = create_detector(DetectorSettings(name="opencv-dnn", weights=tiny_onnx, model_input=64))
    frame = real_frames[0]  # 768x576: boxes scale by 12 and 9
    found = detector.detect([frame, frame])

    assert len(found) == 2
    for boxes in found:
        assert [(b.label, b.score) for b in boxes] == [("person", pytest.approx(0.81, abs=1e-3))]
        assert boxes[0].box == pytest.approx((24 * 12, 16 * 9, 40 * 12, 48 * 9))


def test_min_score_zero_keeps_the_car(tiny_onnx):
    detector = create_detector(DetectorSettings(name="opencv-dnn", weights=tiny_onnx, model_input=64, min_score=0.1))
    [boxes] = detector.detect([np.zeros((64, 64, 3), np.uint8)])
    assert sorted(b.label for b in boxes) == ["car", "person"]


def test_darknet_says_which_file_is_missing(tmp_path):
    with pytest.raises(DetectorUnavailable, match="detector.weights"):
        create_detector(DetectorSettings(name="opencv-dnn"))
    weights = tmp_path / "yolov3-tiny.weights"
    with pytest.raises(DetectorUnavailable, match="not found at"):
        create_detector(DetectorSettings(name="opencv-dnn", weights=weights))
    weights.write_bytes(b"\0" * 64)
    with pytest.raises(DetectorUnavailable, match="detector.config_file"):
        create_detector(DetectorSettings(name="opencv-dnn", weights=weights))
    with pytest.raises(DetectorUnavailable, match="not found at .*yolov3-tiny.cfg"):
        create_detector(DetectorSettings(name="opencv-dnn", weights=weights, config_file=tmp_path / "yolov3-tiny.cfg"))
    cfg = tmp_path / "yolov3-tiny.cfg"
    cfg.write_text("this is not a darknet cfg\n")
    with pytest.raises(DetectorUnavailable, match="cannot load"):
        create_detector(DetectorSettings(name="opencv-dnn", weights=weights, config_file=cfg))
