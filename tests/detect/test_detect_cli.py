"""`edgecloud detect` on real images and footage, and `edgecloud models list`."""

from __future__ import annotations

import json

import cv2
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.detect import darknet_files
from edgecloud.protocol.messages import TrackedObject

OBJECT_FIELDS = set(TrackedObject.model_fields)


def test_detect_images_and_videos_writes_the_json_contract(tmp_path, vtest_mp4, real_frames):
    image = tmp_path / "frame.png"
    cv2.imwrite(str(image), real_frames[0])
    out = tmp_path / "found.json"
    result = CliRunner().invoke(cli, ["detect", str(image), str(vtest_mp4), "--json", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["detector"] == "darknet:yolov3-tiny"
    still, video = report["files"]
    assert still["path"] == str(image) and video["path"] == str(vtest_mp4)
    assert {"car", "person", "truck"} <= set(still["labels"].split(","))
    assert {d["frame"] for d in still["detections"]} == {0}
    assert "person" in video["labels"].split(",")
    frames = {d["frame"] for d in video["detections"]}
    assert len(frames) >= 5 and max(frames) > 30  # sampled through the clip, as a worker does
    for d in still["detections"] + video["detections"]:
        assert set(d) == {"label", "score", "box", "frame"} and len(d["box"]) == 4  # no identity without faces
    assert f"{vtest_mp4}: " in result.output
    assert still["objects"] == []  # one frame: nothing is seen in detector.min_frames frames
    people = [o for o in video["objects"] if o["label"] == "person"]
    assert people and len(people) < sum(d["label"] == "person" for d in video["detections"])
    assert all(set(o) == OBJECT_FIELDS and o["zones"] == [] for o in video["objects"])  # no --device: no zones


def test_detect_places_objects_in_the_zones_of_device(tmp_path, vtest_mp4):
    config = tmp_path / "config.yaml"
    config.write_text("zones:\n  devices:\n    pi-01:\n      left: [[0, 0], [0.5, 0], [0.5, 1], [0, 1]]\n")
    out = tmp_path / "found.json"
    runner = CliRunner()
    result = runner.invoke(
        cli, ["--config", str(config), "detect", str(vtest_mp4), "--device", "pi-01", "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    (video,) = json.loads(out.read_text())["files"]
    assert {z for o in video["objects"] for z in o["zones"]} == {"left"}
    assert " in left" in result.output
    unknown = runner.invoke(cli, ["--config", str(config), "detect", str(vtest_mp4), "--device", "pi-02"])
    assert unknown.exit_code != 0 and "no zones for device 'pi-02' (zones.devices has pi-01)" in unknown.output


def test_detect_says_what_is_wrong(tmp_path, monkeypatch):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not a png")
    bad = CliRunner().invoke(cli, ["detect", str(junk), "--detector", "hog"])
    assert bad.exit_code != 0 and "not an image" in bad.output

    monkeypatch.setattr(darknet_files, "carrier_dir", lambda: None)
    monkeypatch.setenv("EDGECLOUD_DETECTOR__CACHE_DIR", str(tmp_path / "empty"))
    missing = CliRunner().invoke(cli, ["detect", str(junk)])
    assert missing.exit_code != 0 and "edgecloud models fetch yolov3-tiny" in missing.output


def test_models_list_shows_the_verified_copy():
    result = CliRunner().invoke(cli, ["models", "list"])
    assert result.exit_code == 0, result.output
    assert "verified" in result.output and "uses " in result.output and "yolov3-tiny.weights" in result.output


def test_detect_refuses_a_video_bomb_with_the_limit_it_breaks(tmp_path, vtest_mp4, monkeypatch, decoders_opened):
    from edgecloud.bench.bomb import write_bomb_clip

    bomb = write_bomb_clip(tmp_path / "long.mp4", "duration")  # 3 frames over 15 minutes
    refused = CliRunner().invoke(cli, ["detect", str(bomb), "--detector", "hog"])
    assert refused.exit_code != 0
    assert "900.0 s of video is over limits.max_duration_s 120" in refused.output and decoders_opened == []

    monkeypatch.setenv("EDGECLOUD_LIMITS__MAX_FRAMES", "49")  # the limits come from the settings
    short = CliRunner().invoke(cli, ["detect", str(vtest_mp4), "--detector", "hog"])
    assert short.exit_code != 0 and "50 frames are over limits.max_frames 49" in short.output
