"""`edgecloud detect` on real images and footage, and `edgecloud models list`."""
from __future__ import annotations

import json

import cv2
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.detect import darknet_files


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
