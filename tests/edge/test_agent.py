"""The whole agent: mock PIR, file camera on real footage, the real controller app on moto."""

from __future__ import annotations

import re
import threading

import pytest

from edgecloud.edge.agent import EdgeAgent
from edgecloud.edge.scheduler import BusyOffload
from edgecloud.edge.simulate import trigger_event
from edgecloud.protocol.messages import LabelSummary, Result

from .conftest import free_port, stored_clip_keys


def fake_analyse(best_score=0.9, calls=None):
    """Stands in for analyse_clip: instant, with a chosen confidence."""

    def analyse(*, path, clip_id, fps, recorded_at):
        if calls is not None:
            calls.append(clip_id)
        assert path.is_file() and fps == 10.0
        return Result(
            clip_id=clip_id,
            processed_by="edge",
            detector="fake",
            labels="person",
            summary={"person": LabelSummary(max_count=1, frames_seen=3, best_score=best_score)},
        )

    return analyse


@pytest.fixture
def agent_settings(edge_settings):
    edge_settings.edge.retry_max_s = 0.3
    return edge_settings


@pytest.mark.slow
def test_controller_down_for_the_whole_run_then_up_every_clip_arrives_once(
    agent_settings, pins, controller_app, serve, mocked_aws
):
    port = free_port()  # nothing listens here yet
    agent_settings.edge.controller_url = f"http://127.0.0.1:{port}"
    with EdgeAgent(agent_settings, pin_factory=pins, analyse=fake_analyse()) as agent:
        pin = pins.pin(agent_settings.edge.pir_pin)
        ids = [trigger_event(agent, pin) for _ in range(3)]
        assert agent.local.wait_idle(30)
        assert len(agent.spool.entries(stage="ready")) == 3  # all waiting, none lost
        assert not agent.wait_idle(0.5)

        controller = serve(controller_app, port)  # the controller comes up
        assert agent.wait_idle(60)

    assert sorted(controller.stored()) == sorted(ids)
    assert not [p for p in controller.posts if p.get("duplicate")]
    assert len(stored_clip_keys(mocked_aws, agent_settings)) == 3
    records = {r.clip_id: r for r in agent.stats.records()}
    assert set(records) == set(ids)
    assert all(r.uploaded_at > r.triggered_at for r in records.values())


def test_clips_processed_on_the_pi_go_up_with_their_result(agent_settings, pins, controller_app, serve, mocked_aws):
    controller = serve(controller_app)
    agent_settings.edge.controller_url = controller.url
    calls = []
    with EdgeAgent(agent_settings, pin_factory=pins, analyse=fake_analyse(calls=calls), policy=BusyOffload()) as agent:
        clip_id = trigger_event(agent, pins.pin(agent_settings.edge.pir_pin))
        assert agent.wait_idle(30)
    assert calls == [clip_id] and controller.stored() == [clip_id]
    [record] = agent.stats.records()
    assert record.placement == "edge" and record.labels == "person" and record.local_s is not None
    assert record.placement_reason == "the Pi was free"
    assert record.triggered_at < record.result_at and record.uploaded_at and record.trigger_to_result_s > 0
    assert record.recorded_s == pytest.approx(6.0, abs=0.5)  # pre-roll + clip_seconds
    [key] = stored_clip_keys(mocked_aws, agent_settings)
    assert clip_id in key and key.endswith(".mp4")


def test_a_clip_made_while_the_pi_is_busy_goes_to_the_cloud_saying_so(
    agent_settings, pins, controller_app, serve, mocked_aws
):
    controller = serve(controller_app)
    agent_settings.edge.controller_url = controller.url
    second_placed = threading.Event()
    slow = fake_analyse()

    def analyse(**kwargs):  # the Pi stays on the first clip until the second has been placed
        assert second_placed.wait(30)
        return slow(**kwargs)

    with EdgeAgent(agent_settings, pin_factory=pins, analyse=analyse, policy=BusyOffload()) as agent:
        pin = pins.pin(agent_settings.edge.pir_pin)
        first = trigger_event(agent, pin)
        second = trigger_event(agent, pin)
        second_placed.set()  # trigger_event returns once the clip is recorded, spooled and placed
        assert agent.wait_idle(30)
    records = {r.clip_id: r for r in agent.stats.records()}
    assert (records[first].placement, records[first].placement_reason) == ("edge", "the Pi was free")
    assert records[second].placement == "cloud"
    assert re.fullmatch(
        rf"the Pi was busy with clip {first} \(\d+\.\d s in\), "
        r"(estimated finish in \d+\.\d s|past its estimated 5\.0 s) "
        r"\(a guess: no clip timed on this Pi yet\)",
        records[second].placement_reason,
    )
    assert sorted(controller.stored()) == sorted([first, second])


def test_an_unsure_pi_result_is_escalated_to_the_cloud(agent_settings, pins, controller_app, serve, mocked_aws):
    controller = serve(controller_app)
    agent_settings.edge.controller_url = controller.url
    agent_settings.edge.policy = "escalate-uncertain"
    with EdgeAgent(agent_settings, pin_factory=pins, analyse=fake_analyse(best_score=0.3)) as agent:
        clip_id = trigger_event(agent, pins.pin(agent_settings.edge.pir_pin))
        assert agent.wait_idle(30)
    [record] = agent.stats.records()
    assert record.placement == "both" and record.labels_edge == "person" and record.result_at is None
    assert record.placement_reason == "the Pi was unsure (person): the cloud analyses it too"
    assert controller.stored() == [clip_id]
    aws, queues = mocked_aws  # sent without the Pi's result, so the cloud got a job
    assert aws.sqs.receive_message(QueueUrl=queues.jobs, WaitTimeSeconds=0).get("Messages")


def test_a_restart_places_and_uploads_what_was_left(agent_settings, pins, controller_app, serve, vtest_mp4):
    agent_settings.edge.controller_url = f"http://127.0.0.1:{free_port()}"
    agent = EdgeAgent(agent_settings, pin_factory=pins, analyse=fake_analyse())
    with agent:
        clip_id = trigger_event(agent, pins.pin(agent_settings.edge.pir_pin))
        agent.local.wait_idle(30)
    # A clip spooled but never placed (the agent died between the two).
    entry = agent.spool.get(clip_id)
    agent.spool.update(entry, stage="new", result=None)

    controller = serve(controller_app)
    agent_settings.edge.controller_url = controller.url
    from gpiozero.pins.mock import MockFactory

    again_pins = MockFactory()
    try:
        with EdgeAgent(agent_settings, pin_factory=again_pins, analyse=fake_analyse()) as again:
            assert again.wait_idle(30)
    finally:
        again_pins.close()
    assert controller.stored() == [clip_id]
    assert len(again.spool) == 0


def test_a_disk_full_while_recording_makes_room_and_the_next_clip_is_kept(
    agent_settings, pins, vtest_mp4, tmp_path, monkeypatch, caplog
):
    import errno
    import shutil
    import threading

    from edgecloud.edge.camera.file import _ClipWriter
    from edgecloud.edge.spool import Spool
    from edgecloud.protocol.ids import new_clip_id

    agent_settings.edge.controller_url = f"http://127.0.0.1:{free_port()}"  # down: the spool keeps everything
    spool = Spool(agent_settings.edge.spool_dir, 10**9)
    older = []
    for _ in range(2):
        clip_id = new_clip_id("pi-01")
        shutil.copyfile(vtest_mp4, tmp_path / f"{clip_id}.mp4")
        spool.put(
            tmp_path / f"{clip_id}.mp4",
            {
                "clip_id": clip_id,
                "device_id": "pi-01",
                "fps": 10.0,
                "recorded_at": "2026-11-24T10:00:00+00:00",
                "content_type": "video/mp4",
            },
        )
        older.append(clip_id)
    real_write = _ClipWriter.write
    live_writes = []

    def write(self, frame, t, index):
        if threading.current_thread().name.startswith("file-camera"):
            live_writes.append(t)
            if len(live_writes) == 3:
                raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, frame, t, index)

    monkeypatch.setattr(_ClipWriter, "write", write)
    with EdgeAgent(agent_settings, pin_factory=pins, analyse=fake_analyse(), policy=BusyOffload()) as agent:
        pin = pins.pin(agent_settings.edge.pir_pin)
        pin.drive_high()
        assert agent.recorder.wait_for(lambda r: r.state == "recording", timeout=30)
        pin.drive_low()
        assert agent.recorder.wait_idle(timeout=30)
        # The clip the full disk broke is gone, and the oldest video made room for the next; its record stays.
        assert not list(agent.spool.recording_dir.iterdir())
        assert [(e.clip_id, e.video_dropped) for e in agent.spool.entries()] == [(older[0], True), (older[1], False)]
        assert "disk full" in caplog.text and f"dropped the video of clip {older[0]}" in caplog.text
        assert agent.stats.videos_dropped() == (1, vtest_mp4.stat().st_size)

        clip_id = trigger_event(agent, pin)
        assert agent.local.wait_idle(30)
        assert agent.spool.get(clip_id) is not None


def test_a_clip_the_full_disk_could_not_spool_does_not_linger_in_the_recording_dir(
    agent_settings, pins, monkeypatch, caplog
):
    import errno

    from edgecloud.edge import spool as spool_module

    def always_full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    agent_settings.edge.controller_url = f"http://127.0.0.1:{free_port()}"
    with EdgeAgent(agent_settings, pin_factory=pins, analyse=fake_analyse()) as agent:
        monkeypatch.setattr(spool_module, "_write_json", always_full)
        pin = pins.pin(agent_settings.edge.pir_pin)
        clip_id = trigger_event(agent, pin, hold_s=0.3)
        assert agent.recorder.wait_idle(timeout=30)
        assert "could not be kept" in caplog.text and clip_id in caplog.text
        assert not list(agent.spool.recording_dir.iterdir())  # declared lost: its space is free again


def test_over_its_cap_the_agent_drops_the_oldest_video_counts_it_and_still_sends_the_record(
    agent_settings, pins, controller_app, serve, mocked_aws, caplog
):
    import logging

    port = free_port()  # nothing listens here yet: both clips wait in the spool
    agent_settings.edge.controller_url = f"http://127.0.0.1:{port}"
    agent_settings.edge.spool_max_mb = 0.0001  # under one clip: each new clip pushes the older videos out
    with (
        caplog.at_level(logging.WARNING),
        EdgeAgent(agent_settings, pin_factory=pins, analyse=fake_analyse(), policy=BusyOffload()) as agent,
    ):
        pin = pins.pin(agent_settings.edge.pir_pin)
        first = trigger_event(agent, pin)
        assert agent.local.wait_idle(30)  # analysed on the Pi: its result is in the spool entry
        second = trigger_event(agent, pin)
        assert agent.local.wait_idle(30)
        record = agent.spool.get(first)
        assert record.video_dropped and not record.clip_path.exists() and record.result["labels"] == "person"
        assert not agent.spool.get(second).video_dropped
        (count, freed) = agent.stats.videos_dropped()  # counted when dropped, before anything was sent
        assert count == 1 and freed == record.manifest["dropped_bytes"] > 0
        assert f"dropped the video of clip {first} ({freed} bytes freed)" in caplog.text

        controller = serve(controller_app, port)  # the controller comes up
        assert agent.wait_idle(60)
    assert sorted(controller.stored()) == sorted([first, second])
    (only_video,) = stored_clip_keys(mocked_aws, agent_settings)
    assert second in only_video
    records = {r.clip_id: r for r in agent.stats.records()}
    assert records[first].video_dropped_at and records[first].uploaded_at and records[second].video_dropped_at is None


def test_a_clip_whose_video_went_while_the_pi_analysed_it_is_sent_as_a_record(agent_settings, vtest_mp4, tmp_path):
    import shutil

    from edgecloud.protocol.ids import new_clip_id

    agent = EdgeAgent(agent_settings, analyse=fake_analyse())  # not started: its parts, driven by hand
    ids = []
    for _ in range(2):
        ids.append(new_clip_id("pi-01"))
        shutil.copyfile(vtest_mp4, tmp_path / f"{ids[-1]}.mp4")
        agent.spool.put(
            tmp_path / f"{ids[-1]}.mp4",
            {
                "clip_id": ids[-1],
                "device_id": "pi-01",
                "fps": 10.0,
                "recorded_at": "2026-11-24T10:00:00+00:00",
                "content_type": "video/mp4",
            },
            stage="new",
            placement="edge",
        )
    held = agent.spool.entries()  # what the Pi's detector holds
    agent.spool.max_bytes = 1
    assert agent.spool.enforce_cap() == ids
    unreadable = Result(clip_id=ids[0], status="failed", error="no such file", processed_by="edge", detector="fake")
    agent._local_done(held[0], unreadable, 0.1)  # the detector found no file: the record goes alone
    agent._local_done(held[1], fake_analyse()(path=vtest_mp4, clip_id=ids[1], fps=10.0, recorded_at=None), 0.1)
    alone, analysed = agent.spool.entries()
    assert alone.stage == "ready" and alone.video_dropped and not alone.carries_result
    assert analysed.stage == "ready" and analysed.video_dropped and analysed.result["labels"] == "person"
    assert analysed.carries_result  # read before its video went: the Pi's result goes with the record
    assert agent.stats.videos_dropped()[0] == 2
    agent.close()
