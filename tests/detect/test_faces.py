"""The faces detector: dlib's faces and embeddings, named from a DynamoDB gallery (moto), on real photos and footage."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from moto import mock_aws

from edgecloud.aws import Aws
from edgecloud.cli import cli
from edgecloud.config import from_dict
from edgecloud.detect import DetectorUnavailable, create_detector, detector_for
from edgecloud.detect.faces import find_faces
from edgecloud.gallery import FaceGallery, GalleryError
from edgecloud.provision import ensure_resources

from .conftest import photo, write_avi


@pytest.fixture
def cloud(tmp_path, monkeypatch):
    """Settings and a gallery on in-process moto, with the faces table made by ensure_resources."""
    settings = from_dict({"detector": {"name": "faces"}})
    with mock_aws():
        aws = Aws(settings.aws)
        ensure_resources(aws, settings)
        yield settings, FaceGallery(aws, settings.tables.faces, settings.detector.face_distance)


def other_frames(image):
    """The same person in other frames: mirrored, smaller, JPEG-compressed, tilted, darker."""
    h, w = image.shape[:2]
    return [
        cv2.flip(image, 1),
        cv2.resize(image, (w * 3 // 4, h * 3 // 4), interpolation=cv2.INTER_AREA),
        cv2.imdecode(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 30])[1], cv2.IMREAD_COLOR),
        cv2.warpAffine(image, cv2.getRotationMatrix2D((220, 120), 10, 1.0), (w, h)),
        (image * 0.6).astype(np.uint8),
    ]


def test_recognises_an_enrolled_person_in_other_frames_and_no_one_else_as_them(cloud, astronaut, real_frames):
    settings, gallery = cloud
    [face] = find_faces(astronaut, min_score=0.7)  # her face only (the mission patch scores 0.53)
    gallery.enroll("eileen", [face.embedding], {"mission": "STS-93"})
    detector = detector_for(settings)

    for frame in other_frames(astronaut):
        faces = [b for b in detector.detect([frame])[0] if b.identity == "eileen"]
        assert len(faces) == 1 and faces[0].label == "face" and faces[0].distance < 0.5

    # Other faces (the cameraman), things dlib takes for faces in other photos, the footage's walkers: not her.
    loose = detector_for(
        settings.model_copy(update={"detector": settings.detector.model_copy(update={"min_score": 0.35})})
    )
    strangers = [photo("camera"), photo("coins"), photo("rocket")] + real_frames[:5]
    found = [b for boxes in loose.detect(strangers) for b in boxes]
    assert len(found) >= 3  # the cameraman and a few face-like patterns were looked at
    assert {b.identity for b in found} == {"unknown"} and min(b.distance for b in found) > 0.6


def test_nobody_enrolled_is_unknown_with_no_distance(cloud, astronaut):
    settings, _ = cloud
    boxes = detector_for(settings).detect([astronaut])[0]
    assert boxes and {(b.identity, b.distance) for b in boxes} == {("unknown", None)}


def test_combined_with_yolo_in_one_pass(cloud, astronaut, real_frames):
    settings, gallery = cloud
    gallery.enroll("eileen", [f.embedding for f in find_faces(astronaut, min_score=0.7)])
    detector = detector_for(settings, "darknet:yolov3-tiny+faces")
    frame, scene = astronaut, real_frames[0]
    found, in_scene = detector.detect([frame, scene])
    assert "eileen" in {b.identity for b in found if b.label == "face"}
    assert {"person", "car"} <= {b.label for b in in_scene}  # YOLO's labels come through unchanged
    assert all(b.identity is None for b in in_scene if b.label != "face")


def test_a_clip_result_says_who_was_seen(cloud, astronaut, tmp_path):
    from edgecloud.pipeline import analyse_clip

    settings, gallery = cloud
    gallery.enroll("eileen", [f.embedding for f in find_faces(astronaut, min_score=0.7)])
    # 3 s of footage: she holds still, then the camera pans across her.
    frames = [astronaut] * 10 + [np.roll(astronaut, 4 * i, axis=1) for i in range(20)]
    clip = write_avi(tmp_path / "eileen.avi", frames)
    strict = settings.model_copy(update={"detector": settings.detector.model_copy(update={"min_score": 0.7})})
    result = analyse_clip(
        clip, detector_for(strict), strict.detector, clip_id="20261124T113500123Z_pi-01_3fa9c2d1", processed_by="test"
    )
    assert result.labels == "face" and result.summary["face"].identities == ["eileen"]  # the patch scores under 0.7
    assert result.summary["face"].frames_seen >= 3
    assert {d.identity for d in result.detections} == {"eileen"}


def test_faces_needs_its_gallery():
    from edgecloud.config import DetectorSettings

    with pytest.raises(DetectorUnavailable, match="tables.faces"):
        create_detector(DetectorSettings(name="faces"))


def test_gallery_rejects_bad_enrolments(cloud):
    _, gallery = cloud
    with pytest.raises(GalleryError):
        gallery.enroll("unknown", np.zeros((1, 128)))
    with pytest.raises(GalleryError):
        gallery.enroll("x", np.zeros((0, 128)))


def test_enroll_list_forget_commands(cloud, astronaut, tmp_path):
    settings, gallery = cloud
    cv2.imwrite(str(tmp_path / "eileen.png"), astronaut)
    cv2.imwrite(str(tmp_path / "eileen-2.jpg"), other_frames(astronaut)[0])
    cv2.imwrite(str(tmp_path / "coffee.png"), photo("coffee"))
    runner = CliRunner()

    ok = runner.invoke(
        cli,
        [
            "faces",
            "enroll",
            "Eileen Collins",
            str(tmp_path / "eileen.png"),
            str(tmp_path / "eileen-2.jpg"),
            "--info",
            '{"role": "commander"}',
        ],
    )
    assert ok.exit_code == 0, ok.output
    assert "2 face(s)" in ok.output and "1 weaker face(s) ignored" in ok.output  # the patch on her suit
    listed = json.loads(runner.invoke(cli, ["faces", "list", "--json"]).output)
    assert [(p["name"], p["faces"], p["info"]) for p in listed] == [("Eileen Collins", 2, {"role": "commander"})]

    found = runner.invoke(
        cli, ["detect", str(tmp_path / "eileen-2.jpg"), "--detector", "faces", "--json", str(tmp_path / "out.json")]
    )
    assert found.exit_code == 0, found.output
    [entry] = json.loads((tmp_path / "out.json").read_text())["files"]
    assert "Eileen Collins" in {d.get("identity") for d in entry["detections"]}

    no_face = runner.invoke(cli, ["faces", "enroll", "cup", str(tmp_path / "coffee.png")])
    assert no_face.exit_code != 0 and "no face found" in no_face.output
    bad_info = runner.invoke(cli, ["faces", "enroll", "x", str(tmp_path / "eileen.png"), "--info", "{oops"])
    assert bad_info.exit_code != 0 and "not valid JSON" in bad_info.output

    assert runner.invoke(cli, ["faces", "forget", "Eileen Collins"]).exit_code == 0
    assert gallery.people() == []
    gone = runner.invoke(cli, ["faces", "forget", "Eileen Collins"])
    assert gone.exit_code != 0 and "not enrolled" in gone.output
