"""Every backend on real frames; weights loading and the errors when something is missing."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from edgecloud.config import DetectorSettings
from edgecloud.detect import DetectorUnavailable, create_detector

torch = pytest.importorskip("torch", reason="torchvision backends need the torch extra")
from edgecloud.detect.torchvision_models import MODELS, cached_weights_path  # noqa: E402

SMALL = dict(pretrained=False, model_input=96, max_detections=5, min_score=0.0)


def inside(box, frame):
    h, w = frame.shape[:2]
    x1, y1, x2, y2 = box
    return -1 <= x1 <= x2 <= w + 1 and -1 <= y1 <= y2 <= h + 1


@pytest.mark.parametrize("name", ["hog", "hog:daimler", "haar:fullbody"])
def test_opencv_people_detectors_find_people(name, real_frames):
    detector = create_detector(DetectorSettings(name=name))
    found = detector.detect(real_frames[:2])

    assert len(found) == 2 and not detector.random_weights
    for frame, boxes in zip(real_frames, found):
        assert boxes and {b.label for b in boxes} == {"person"}
        assert all(inside(b.box, frame) for b in boxes)


@pytest.mark.parametrize("name", ["hog", "hog:daimler", "haar:fullbody"])
def test_frames_smaller_than_the_window_give_nothing(name):
    detector = create_detector(DetectorSettings(name=name))
    assert detector.detect([np.zeros((50, 50, 3), np.uint8), np.zeros((20, 300, 3), np.uint8)]) == [[], []]


@pytest.mark.parametrize("name", ["hog:tiny", "haar:cat"])
def test_unknown_opencv_models(name):
    with pytest.raises(DetectorUnavailable, match="not"):
        create_detector(DetectorSettings(name=name))


@pytest.mark.parametrize("model", MODELS)
def test_every_torchvision_model_builds_offline_and_runs_on_a_real_frame(model, real_frames):
    detector = create_detector(DetectorSettings(name=f"torchvision:{model}", **SMALL))
    frame = cv2.resize(real_frames[0], (128, 96), interpolation=cv2.INTER_AREA)
    [boxes] = detector.detect([frame])

    assert detector.random_weights and detector.name == f"torchvision:{model}"
    assert len(boxes) <= 5
    labels = set(detector.backend.labelmap) - {"__background__", "N/A"}
    assert all(b.label in labels and inside(b.box, frame) for b in boxes)


def test_ssdlite_batches_and_shrinks_frames_to_its_input(ssdlite, real_frames):
    detector = ssdlite[0]
    assert detector.input_side(640) == 320 and detector.input_side(200) == 200
    frames = [cv2.resize(f, (160, 120)) for f in real_frames[:3]]
    assert len(detector.detect(frames)) == 3


@pytest.fixture(scope="module")
def ssdlite(tmp_path_factory):
    """A random-weights ssdlite and its state dict saved twice: as is, and without batch-norm step counters
    (as in torchvision's trained checkpoints, which use frozen batch norm)."""
    detector = create_detector(DetectorSettings(name="torchvision:ssdlite320_mobilenet_v3_large", **SMALL))
    state = detector.backend.net.state_dict()
    folder = tmp_path_factory.mktemp("weights")
    torch.save(state, folder / "full.pth")
    torch.save({k: v for k, v in state.items() if not k.endswith("num_batches_tracked")}, folder / "frozen.pth")
    return detector, folder / "full.pth", folder / "frozen.pth"


def test_weights_from_a_local_state_dict(ssdlite, real_frames):
    original, path, _ = ssdlite
    loaded = create_detector(
        DetectorSettings(
            name="torchvision:ssdlite320_mobilenet_v3_large", weights=path, **{**SMALL, "pretrained": True}
        )
    )
    frame = cv2.resize(real_frames[0], (160, 120))

    assert not loaded.random_weights
    assert loaded.detect([frame]) == original.detect([frame])


def test_a_checkpoint_with_frozen_batch_norm_loads_into_frozen_batch_norm(ssdlite):
    from torchvision.ops import FrozenBatchNorm2d

    _, _, frozen = ssdlite
    loaded = create_detector(
        DetectorSettings(
            name="torchvision:ssdlite320_mobilenet_v3_large", weights=frozen, **{**SMALL, "pretrained": True}
        )
    )
    kinds = {type(m) for m in loaded.backend.net.modules()}
    assert FrozenBatchNorm2d in kinds and torch.nn.BatchNorm2d not in kinds
    detections = loaded.detect([np.zeros((120, 160, 3), np.uint8)])
    assert len(detections) == 1


def test_default_weights_come_from_the_torch_hub_cache(tmp_path, monkeypatch, real_frames, ssdlite):
    from torchvision.models import get_model_weights
    from torchvision.models.detection import ssdlite320_mobilenet_v3_large

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    cached = cached_weights_path(get_model_weights(ssdlite320_mobilenet_v3_large).DEFAULT)
    original, path, _ = ssdlite
    cached.parent.mkdir(parents=True)
    cached.write_bytes(path.read_bytes())

    loaded = create_detector(
        DetectorSettings(name="torchvision:ssdlite320_mobilenet_v3_large", **{**SMALL, "pretrained": True})
    )
    frame = cv2.resize(real_frames[0], (160, 120))
    assert loaded.detect([frame]) == original.detect([frame])


def test_missing_default_weights_say_where_to_put_the_file(tmp_path, monkeypatch):
    import urllib.error

    import torchvision.models._api as api

    def offline(url, *args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "get_dir", lambda: str(tmp_path / "hub"))
    monkeypatch.setattr(api, "load_state_dict_from_url", offline)
    with pytest.raises(DetectorUnavailable) as err:
        create_detector(DetectorSettings(name="torchvision:fasterrcnn_mobilenet_v3_large_320_fpn"))
    message = str(err.value)
    assert "https://download.pytorch.org/models/" in message
    assert str(tmp_path / "hub" / "checkpoints") in message and "detector.weights" in message


def test_bad_local_weights(tmp_path, ssdlite):
    with pytest.raises(DetectorUnavailable, match="not found"):
        create_detector(
            DetectorSettings(name="torchvision:ssdlite320_mobilenet_v3_large", weights=tmp_path / "nope.pth")
        )
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(DetectorUnavailable, match="not a torch state dict"):
        create_detector(DetectorSettings(name="torchvision:ssdlite320_mobilenet_v3_large", weights=junk))
    with pytest.raises(DetectorUnavailable, match="does not fit"):
        create_detector(DetectorSettings(name="torchvision:fasterrcnn_mobilenet_v3_large_320_fpn", weights=ssdlite[1]))


def test_unknown_torchvision_model_and_missing_gpu(monkeypatch):
    with pytest.raises(DetectorUnavailable, match="fcos_resnet50_fpn"):
        create_detector(DetectorSettings(name="torchvision:yolov8"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(DetectorUnavailable, match="no CUDA"):
        create_detector(
            DetectorSettings(name="torchvision:ssdlite320_mobilenet_v3_large", device="cuda", pretrained=False)
        )


def test_half_precision_falls_back_to_float32_when_an_op_lacks_it(ssdlite, real_frames):
    detector = create_detector(DetectorSettings(name="torchvision:ssdlite320_mobilenet_v3_large", **SMALL))
    detector.backend.half = True  # as on a GPU; on CPU torchvision's nms has no float16 kernel
    detector.backend.net.half()
    frame = cv2.resize(real_frames[0], (160, 120))

    found = detector.detect([frame])

    assert len(found) == 1 and detector.backend.half is False
    assert next(detector.backend.net.parameters()).dtype == torch.float32
