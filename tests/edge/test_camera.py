"""Cameras: the file camera on real footage, the picamera2 adapter on a fake module, the choice."""

from __future__ import annotations

import logging

import av
import numpy as np
import pytest

from edgecloud.edge.camera import CameraError, create_camera
from edgecloud.edge.camera.file import FileCamera
from edgecloud.edge.camera.picam import Picamera2Camera

from .conftest import first_frame, source_frame


def test_file_camera_clip_starts_before_its_trigger(file_camera, vtest_avi, tmp_path):
    assert file_camera.wait_until(3.0, timeout=10)
    trigger = file_camera.now()
    file_camera.start_clip(tmp_path / "c.mp4", trigger_time=trigger)
    assert file_camera.wait_until(trigger + 2.0, timeout=10)
    clip = file_camera.stop_clip()

    assert clip.start_time < trigger
    assert clip.preroll_s == pytest.approx(1.0, abs=0.11)
    # The clip's first decoded frame is the source frame from a second before the trigger,
    # not the one at the trigger.
    _, first = first_frame(clip.path)
    before = source_frame(vtest_avi, clip.first_source_frame)
    at_trigger = source_frame(vtest_avi, round(trigger * file_camera.fps))
    assert clip.first_source_frame < round(trigger * file_camera.fps)
    assert np.abs(first - before).mean() < np.abs(first - at_trigger).mean() / 2


def test_file_camera_writes_mp4_with_timestamps(file_camera, tmp_path):
    file_camera.start_clip(tmp_path / "c.mp4")
    file_camera.wait_until(file_camera.now() + 1.5, timeout=10)
    clip = file_camera.stop_clip()
    with av.open(str(clip.path)) as container:
        assert container.format.name.startswith("mov,mp4")
        times = [f.time for f in container.decode(video=0)]
    assert len(times) == clip.frames
    assert np.allclose(np.diff(times), 1 / file_camera.fps)
    assert times[-1] - times[0] == pytest.approx(clip.duration_s - 1 / file_camera.fps, abs=1e-6)


def test_file_camera_is_a_well_behaved_object(vtest_avi, tmp_path):
    camera = FileCamera(vtest_avi, playback_speed=20)
    assert "vtest.avi" in repr(camera) and "new" in repr(camera)
    with pytest.raises(CameraError):
        camera.start_clip(tmp_path / "x.mp4")
    with camera:
        assert "running" in repr(camera)
        camera.start_clip(tmp_path / "open.mp4")
        with pytest.raises(CameraError):
            camera.start_clip(tmp_path / "again.mp4")
    camera.close()  # twice is fine, and the open clip was finished
    assert "closed" in repr(camera)
    with av.open(str(tmp_path / "open.mp4")) as container:
        assert container.streams.video[0].frames > 0
    with pytest.raises(CameraError):
        FileCamera(tmp_path / "missing.mp4")


def test_picamera2_adapter_makes_the_calls_a_pi_needs(fake_picamera2, tmp_path):
    camera = Picamera2Camera(resolution=(1280, 720), fps=10, bitrate=3_000_000, preroll_seconds=1.0)
    assert fake_picamera2 == []  # nothing touched before start
    with camera:
        camera.start_clip(tmp_path / "c.mp4")
        clip = camera.stop_clip()
    camera.close()

    names = [name for name, _, _ in fake_picamera2]
    encoder = next(kw for name, _, kw in fake_picamera2 if name == "H264Encoder")
    assert encoder["repeat"] is True and encoder["bitrate"] == 3_000_000 and 1 <= encoder["iperiod"] <= 10
    circular = next(kw for name, _, kw in fake_picamera2 if name == "CircularOutput2")
    assert circular["buffer_duration_ms"] >= 1000  # at least the pre-roll
    configure = next(kw for name, _, kw in fake_picamera2 if name == "Picamera2.create_video_configuration")
    assert configure["main"]["size"] == (1280, 720) and configure["controls"]["FrameRate"] == 10
    start = next(args for name, args, _ in fake_picamera2 if name == "Picamera2.start_recording")
    assert [type(a).__name__ for a in start] == ["H264Encoder", "CircularOutput2"]
    opened = next(args for name, args, _ in fake_picamera2 if name == "CircularOutput2.open_output")
    assert type(opened[0]).__name__ == "PyavOutput" and opened[0].args == (str(tmp_path / "c.mp4"),)
    assert names.index("CircularOutput2.open_output") < names.index("CircularOutput2.close_output")
    assert names[-2:] == ["Picamera2.stop_recording", "Picamera2.close"]  # once, though closed twice
    assert clip.content_type == "video/mp4" and clip.fps == 10
    assert camera.close_lag_s >= 1.0  # the buffer's delay is waited out before a clip ends


def test_camera_choice_argument_then_config_then_fallback(settings, vtest_avi, fake_picamera2, monkeypatch, caplog):
    settings.edge.video = vtest_avi
    assert isinstance(create_camera(settings.edge), Picamera2Camera)  # auto: picamera2 is importable
    assert isinstance(create_camera(settings.edge, "file"), FileCamera)  # the argument wins
    settings.edge.camera = "file"
    assert isinstance(create_camera(settings.edge), FileCamera)  # then the config


def test_camera_auto_off_the_pi_warns_and_plays_the_file(settings, vtest_avi, monkeypatch, caplog):
    monkeypatch.setattr("edgecloud.edge.camera.picamera2_available", lambda: False)
    with pytest.raises(CameraError, match="picamera2"):
        create_camera(settings.edge)
    settings.edge.video = vtest_avi
    with caplog.at_level(logging.WARNING):
        camera = create_camera(settings.edge)
    assert isinstance(camera, FileCamera) and "plays" in caplog.text
    with pytest.raises(CameraError, match="unknown"):
        create_camera(settings.edge, "webcam")


def test_a_raw_h264_stream_plays_at_the_rate_that_travels_with_it(vtest_h264, tmp_path):
    with pytest.raises(CameraError, match="fps"):
        FileCamera(vtest_h264)  # a reader would only guess (25 fps here): refuse to
    with FileCamera(vtest_h264, fps=10, playback_speed=20, loop=False) as camera:
        camera.start_clip(tmp_path / "c.mp4")
        assert camera.wait_until(2.0, timeout=10)
        clip = camera.stop_clip()
    assert clip.fps == 10
    with av.open(str(clip.path)) as container:
        times = [f.time for f in container.decode(video=0)]
    assert np.allclose(np.diff(times), 0.1) and clip.frames == len(times)


def test_file_camera_refuses_a_file_that_is_not_video(tmp_path):
    bogus = tmp_path / "clip.mp4"
    bogus.write_bytes(b"this is not a video")
    with pytest.raises(CameraError, match="not a playable video"):
        FileCamera(bogus)
