"""Motion -> clips, with gpiozero's mock pin driving the PIR and the file camera on real footage."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from edgecloud.edge.camera.file import _ClipWriter
from edgecloud.edge.recorder import Recorder

from .conftest import first_frame, source_frame


@pytest.fixture
def make_recorder(file_camera, pir, tmp_path):
    made = []

    def make(**kwargs):
        sensor, pin = pir
        options = dict(clip_seconds=5.0, max_clip_seconds=30.0, cooldown_seconds=1.0)
        options.update(kwargs)
        recorder = Recorder(
            file_camera, sensor, device_id="pi-test", clip_dir=tmp_path / "clips", on_clip=lambda clip: None, **options
        ).start()
        made.append(recorder)
        return recorder, pin

    yield make
    for recorder in made:
        recorder.close()


def hold_motion(camera, pin, seconds, recorder, *, from_trigger=False):
    """Drive the PIR high for ``seconds`` of camera time from when its sensor saw it (from the trigger
    with ``from_trigger``), then low until the sensor sees that too: at ten times real speed a short
    pulse could otherwise come and go between two samples on a loaded machine. Returns the camera time
    just after the pin went low (this thread may wake late, and the motion lasted until then)."""
    pin.drive_high()
    assert recorder.sensor.wait_for_motion(30)
    if from_trigger:
        assert recorder.wait_for(lambda r: r.state == "recording", timeout=30)
    start = camera.now()
    assert camera.wait_until(start + seconds, timeout=30)
    pin.drive_low()
    ended = camera.now()
    assert recorder.sensor.wait_for_no_motion(30)
    return ended


def assert_ends_with_motion(clip, motion_ended, clip_seconds):
    """The clip runs ``clip_seconds`` past its trigger, or on to the motion's end when that is later.
    Give or take: the camera may run the recorder's margin ahead of its last look at a moving sensor,
    plus a frame; and past the motion's end while the sensor's sampling thread catches up, in wall time
    the sped-up camera multiplies."""
    margin = Recorder.motion_margin_s + 0.11
    assert clip.end_time - clip.trigger_time >= clip_seconds - 0.11
    assert clip.end_time >= motion_ended - margin
    assert clip.end_time <= max(clip.trigger_time + clip_seconds + 0.3, motion_ended + margin + 2.0)


def test_trigger_yields_a_clip_whose_first_frame_is_from_before_the_trigger(make_recorder, file_camera, vtest_avi):
    recorder, pin = make_recorder()
    file_camera.wait_until(2.0, timeout=10)
    motion_ended = hold_motion(file_camera, pin, 1.0, recorder)
    assert recorder.wait_for_clips(1, timeout=30)
    recorded = recorder.clips[0]
    clip = recorded.clip

    assert clip.start_time < clip.trigger_time
    assert clip.preroll_s == pytest.approx(1.0, abs=0.11)
    _, first = first_frame(clip.path)
    trigger_index = round(clip.trigger_time * file_camera.fps)
    assert clip.first_source_frame <= trigger_index - 9
    diff_before = np.abs(first - source_frame(vtest_avi, clip.first_source_frame)).mean()
    diff_trigger = np.abs(first - source_frame(vtest_avi, trigger_index)).mean()
    assert diff_before < diff_trigger / 2
    assert_ends_with_motion(clip, motion_ended, 5.0)  # a short motion: the configured length after the trigger
    assert recorded.clip_id.split("_")[1] == "pi-test" and clip.path.name == f"{recorded.clip_id}.mp4"


def test_motion_lasting_8_s_yields_one_clip_of_about_8_s(make_recorder, file_camera):
    recorder, pin = make_recorder()
    motion_ended = hold_motion(file_camera, pin, 8.0, recorder, from_trigger=True)
    assert recorder.wait_for_clips(1, timeout=30)
    assert recorder.wait_idle(timeout=30)

    assert len(recorder.clips) == 1, [r.clip for r in recorder.clips]
    clip = recorder.clips[0].clip
    # Motion lasted 8 s from the trigger (longer when this thread woke late): past the 5 s a short one gets.
    assert clip.end_time - clip.trigger_time >= 8.0 - 0.11
    assert_ends_with_motion(clip, motion_ended, 5.0)
    assert clip.frames / clip.fps == pytest.approx(clip.end_time - clip.start_time, abs=0.15)  # no frame lost


def test_long_motion_is_capped_and_continues_in_a_new_clip(make_recorder, file_camera):
    recorder, pin = make_recorder(max_clip_seconds=6.0, cooldown_seconds=0.5)
    hold_motion(file_camera, pin, 9.0, recorder, from_trigger=True)
    assert recorder.wait_for_clips(2, timeout=30)
    assert recorder.wait_idle(timeout=30)
    first, second = (r.clip for r in recorder.clips)
    assert first.end_time - first.trigger_time == pytest.approx(6.0, abs=0.3)
    assert second.trigger_time >= first.end_time + 0.5 - 0.11  # after the cooldown


def test_trigger_during_cooldown_is_not_lost(make_recorder, file_camera):
    recorder, pin = make_recorder(clip_seconds=2.0, cooldown_seconds=2.0)
    hold_motion(file_camera, pin, 1.0, recorder)
    assert recorder.wait_for(lambda r: r.state == "cooldown", timeout=30)
    hold_motion(file_camera, pin, 1.0, recorder)  # a new event while cooling down
    assert recorder.wait_for_clips(2, timeout=30)
    assert recorder.wait_idle(timeout=30)
    assert len(recorder.clips) == 2
    assert "clips=2" in repr(recorder)


def test_a_short_motion_while_the_last_clip_is_being_saved_is_not_lost(file_camera, pir, tmp_path):
    sensor, pin = pir
    recorder = None
    motion_seen = threading.Event()

    def on_clip(recorded):
        if not recorder.clips:  # the first clip is being saved: a short pulse comes and goes
            motion_seen.clear()
            pin.drive_high()
            assert motion_seen.wait(10)
            pin.drive_low()
            assert sensor.wait_for_inactive(10)

    recorder = Recorder(
        file_camera,
        sensor,
        device_id="pi-test",
        clip_dir=tmp_path / "clips",
        on_clip=on_clip,
        clip_seconds=2.0,
        cooldown_seconds=1.0,
    ).start()
    on_motion = sensor.when_motion

    def noted():
        on_motion()
        motion_seen.set()

    sensor.when_motion = noted
    try:
        hold_motion(file_camera, pin, 0.5, recorder, from_trigger=True)
        assert recorder.wait_for_clips(2, timeout=20), "the pulse during saving started no clip"
        assert recorder.wait_idle(timeout=30)
        assert len(recorder.clips) == 2
    finally:
        recorder.close()


def test_a_clip_that_cannot_be_encoded_fails_alone_and_the_next_one_records(
    make_recorder, file_camera, monkeypatch, caplog
):
    real_write = _ClipWriter.write
    live_writes = []

    def write(self, frame, t, index):
        if threading.current_thread().name.startswith("file-camera"):
            live_writes.append(t)
            if len(live_writes) == 3:
                raise OSError(28, "No space left on device")
        return real_write(self, frame, t, index)

    monkeypatch.setattr(_ClipWriter, "write", write)
    recorder, pin = make_recorder(clip_seconds=2.0, cooldown_seconds=0.5)
    pin.drive_high()
    assert recorder.wait_for(lambda r: r.state == "recording", timeout=30)
    pin.drive_low()
    assert recorder.wait_idle(timeout=30)
    assert "recording failed" in caplog.text and "No space left" in caplog.text
    assert recorder.clips == []

    motion_ended = hold_motion(file_camera, pin, 0.5, recorder, from_trigger=True)
    assert recorder.wait_for_clips(1, timeout=30)
    assert_ends_with_motion(recorder.clips[0].clip, motion_ended, 2.0)
    first_frame(recorder.clips[0].clip.path)  # a whole, decodable clip


def test_a_trigger_early_in_a_long_cooldown_still_gets_the_start_of_its_event(make_recorder, file_camera):
    recorder, pin = make_recorder(clip_seconds=1.0, cooldown_seconds=4.0)
    hold_motion(file_camera, pin, 0.3, recorder)
    assert recorder.wait_for(lambda r: r.state == "cooldown", timeout=30)
    hold_motion(file_camera, pin, 0.3, recorder)  # a new event at the start of the cooldown
    assert recorder.wait_for_clips(2, timeout=30)
    second = recorder.clips[1].clip
    # The camera keeps one second: waiting out all four would start the clip well after the trigger.
    assert second.start_time <= second.trigger_time
