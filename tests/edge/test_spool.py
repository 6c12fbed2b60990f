"""The durable outbox: atomic entries, recovery after a crash, size cap and a full disk."""

from __future__ import annotations

import errno
import json
import logging
import os

import pytest

from edgecloud.edge import spool as spool_module
from edgecloud.edge.spool import Spool, SpoolFull
from edgecloud.protocol.ids import new_clip_id


def make_clip(tmp_path, size=1000, name=None):
    path = tmp_path / (name or f"{new_clip_id('pi-01')}.mp4")
    path.write_bytes(b"\0" * size)
    return path


def put(spool, tmp_path, size=1000, result=None):
    clip_id = new_clip_id("pi-01")
    clip = make_clip(tmp_path, size, f"{clip_id}.mp4")
    return spool.put(clip, {"clip_id": clip_id, "content_type": "video/mp4", "fps": 10.0}, result=result)


def test_put_moves_the_clip_into_a_durable_entry(tmp_path):
    spool = Spool(tmp_path / "spool", 10**9)
    clip = make_clip(tmp_path, 1234)
    clip_id = clip.stem
    entry = spool.put(clip, {"clip_id": clip_id, "content_type": "video/mp4", "fps": 10.0}, stage="new")

    assert not clip.exists()  # moved, not copied
    assert entry.clip_path.stat().st_size == 1234
    on_disk = json.loads((entry.path / "manifest.json").read_text())
    assert on_disk["metadata"]["clip_id"] == clip_id and on_disk["stage"] == "new" and on_disk["result"] is None
    spool.update(entry, stage="ready", result={"labels": "person"})
    again = Spool(tmp_path / "spool", 10**9).get(clip_id)  # as a restarted agent sees it
    assert again.stage == "ready" and again.result == {"labels": "person"}
    spool.remove(entry)
    spool.remove(entry)  # twice is fine
    assert len(spool) == 0


def test_entries_come_oldest_first_and_bad_ids_are_refused(tmp_path):
    spool = Spool(tmp_path / "spool", 10**9)
    ids = [put(spool, tmp_path).clip_id for _ in range(3)]
    assert [e.clip_id for e in spool.entries()] == sorted(ids)
    with pytest.raises(ValueError):
        spool.put(make_clip(tmp_path), {"clip_id": "../../etc/passwd"})


def test_restart_clears_half_written_entries_and_partial_recordings(tmp_path, caplog):
    root = tmp_path / "spool"
    spool = Spool(root, 10**9)
    kept = put(spool, tmp_path)
    (root / ".tmp" / "half-built").mkdir()
    (root / ".recording" / "cut-short.mp4").write_bytes(b"\0")
    with caplog.at_level(logging.WARNING):
        again = Spool(root, 10**9)
    assert [e.clip_id for e in again.entries()] == [kept.clip_id]
    assert not list((root / ".tmp").iterdir()) and not list((root / ".recording").iterdir())
    assert "cut-short.mp4" in caplog.text


def dropped_record(spool, entry):
    """The entry as a restarted agent sees it: its record is there, its video is not."""
    again = Spool(spool.root, 10**9).get(entry.clip_id)
    assert again is not None and again.video_dropped and not again.clip_path.exists()
    return again


def test_over_the_cap_the_oldest_video_goes_and_its_record_result_and_snapshot_stay(tmp_path, caplog):
    spool = Spool(tmp_path / "spool", 10**9)
    analysed_old = put(spool, tmp_path, 1000, result={"labels": "person"})
    (analysed_old.path / "snapshot.jpg").write_bytes(b"\xff\xd8\xff" + b"\0" * 97)
    clip_only = put(spool, tmp_path, 1000)
    newest = put(spool, tmp_path, 1000)
    spool.max_bytes = 3000  # room for two clips and the three records
    with caplog.at_level(logging.WARNING):
        dropped = spool.enforce_cap()
    assert dropped == [analysed_old.clip_id]
    assert [e.clip_id for e in spool.entries()] == [analysed_old.clip_id, clip_only.clip_id, newest.clip_id]
    record = dropped_record(spool, analysed_old)
    assert record.result == {"labels": "person"} and (record.path / "snapshot.jpg").stat().st_size == 100
    assert record.manifest["dropped_bytes"] == 1000 and record.manifest["dropped_at"]
    assert record.stage == "ready" and record.carries_result
    assert spool.get(clip_only.clip_id).clip_path.stat().st_size == 1000
    assert (spool.videos_dropped, spool.bytes_dropped) == (1, 1000)
    warning = next(r for r in caplog.records if analysed_old.clip_id in r.getMessage())
    assert warning.levelno == logging.WARNING and "1000 bytes freed" in warning.getMessage()
    assert "over its cap" in warning.getMessage()


def test_a_new_clip_in_a_full_spool_keeps_its_video_and_older_ones_keep_their_records(tmp_path):
    told = []
    spool = Spool(tmp_path / "spool", 10**9, on_video_dropped=lambda entry, freed: told.append((entry.clip_id, freed)))
    older = [put(spool, tmp_path, 1000, result={"labels": "person"} if n else None) for n in range(2)]
    spool.max_bytes = 1800  # room for one clip and the records
    new = put(spool, tmp_path, 1000)  # the one just recorded keeps its video
    assert new.clip_path.stat().st_size == 1000
    assert [e.clip_id for e in spool.entries()] == [older[0].clip_id, older[1].clip_id, new.clip_id]
    assert told == [(older[0].clip_id, 1000), (older[1].clip_id, 1000)]
    assert all(dropped_record(spool, e) for e in older)
    assert spool.enforce_cap() == []  # a record is never dropped, even over the cap


def test_a_full_disk_makes_room_by_dropping_the_oldest_video(tmp_path, monkeypatch, caplog):
    spool = Spool(tmp_path / "spool", 10**9)
    oldest = put(spool, tmp_path)
    analysed = put(spool, tmp_path, result={"labels": "car"})
    real_write = spool_module._write_json
    failures = iter([True])

    def disk_full_once(path, data):
        if next(failures, False):
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data)

    monkeypatch.setattr(spool_module, "_write_json", disk_full_once)
    with caplog.at_level(logging.WARNING):
        newest = put(spool, tmp_path)
    assert [e.clip_id for e in spool.entries()] == [oldest.clip_id, analysed.clip_id, newest.clip_id]
    assert dropped_record(spool, oldest).manifest["dropped_bytes"] == 1000
    assert spool.get(analysed.clip_id).clip_path.exists() and newest.clip_path.exists()
    assert "disk full" in caplog.text and f"dropped the video of clip {oldest.clip_id}" in caplog.text


def test_on_a_disk_too_full_for_a_manifest_the_video_is_emptied_first_and_a_restart_finishes(tmp_path, monkeypatch):
    spool = Spool(tmp_path / "spool", 10**9)
    entry = put(spool, tmp_path, result={"labels": "car"})

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_module, "_write_json", full)
    assert spool.make_room("disk full") == []  # said why in the log; nothing half-done is counted
    assert entry.clip_path.stat().st_size == 0  # but the bytes were freed: a kill here...
    monkeypatch.undo()
    record = dropped_record(spool, entry)  # ...and the restart finishes the drop
    assert record.result == {"labels": "car"}


def test_a_kill_between_the_record_and_the_video_leaving_loses_neither(tmp_path, monkeypatch):
    spool = Spool(tmp_path / "spool", 10**9)
    entry = put(spool, tmp_path, 1000)
    on_disk = json.loads((entry.path / "manifest.json").read_text())
    manifest = {**on_disk, "video_dropped": True, "dropped_bytes": 1000, "dropped_at": "2026-11-24T10:00:00+00:00"}
    (entry.path / "manifest.json").write_text(json.dumps(manifest))  # the kill came before the unlink
    again = Spool(tmp_path / "spool", 10**9)
    record = dropped_record(again, entry)
    assert record.manifest["dropped_at"] == "2026-11-24T10:00:00+00:00" and again.videos_dropped == 1


def test_a_stale_entry_never_undoes_a_drop(tmp_path):
    spool = Spool(tmp_path / "spool", 10**9)
    held = put(spool, tmp_path, 1000, result=None)  # e.g. the Pi's detector holds this Entry
    spool.max_bytes = 500
    spool.enforce_cap()
    spool.update(held, stage="ready", result={"labels": "person"})  # its result arrives after the drop
    record = dropped_record(spool, held)
    assert record.result == {"labels": "person"}
    smaller = held.path / "downscaled.tmp.mp4"
    smaller.write_bytes(b"\1" * 10)
    spool.replace_clip(held, smaller, downscaled=True)  # a downscale that finished after the drop
    assert dropped_record(spool, held) and not smaller.exists() and not (held.path / "clip-sent.mp4").exists()


def test_a_disk_that_stays_full_says_so_and_gives_the_clip_back(tmp_path, monkeypatch, caplog):
    spool = Spool(tmp_path / "spool", 10**9)

    def always_full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(spool_module, "_write_json", always_full)
    clip = make_clip(tmp_path)
    with caplog.at_level(logging.ERROR), pytest.raises(SpoolFull):
        spool.put(clip, {"clip_id": clip.stem})
    assert clip.exists() and "could not be kept" in caplog.text
    assert not list((tmp_path / "spool" / ".tmp").iterdir())


def staged(root, clip_id, *, clip_in_staging):
    """The disk as a kill -9 inside ``put`` leaves it: the manifest staged, the clip moved in or not yet."""
    staging = root / ".tmp" / clip_id
    staging.mkdir()
    manifest = {
        "metadata": {"clip_id": clip_id, "content_type": "video/mp4", "fps": 10.0},
        "clip_file": "clip.mp4",
        "stage": "new",
        "result": None,
    }
    (staging / "manifest.json").write_text(json.dumps(manifest))
    clip = (staging / "clip.mp4") if clip_in_staging else (root / ".recording" / f"{clip_id}.mp4")
    clip.write_bytes(b"\0" * 321)


def test_a_kill_inside_put_loses_no_clip(tmp_path, caplog):
    root = tmp_path / "spool"
    Spool(root, 10**9)
    moved, not_moved = new_clip_id("pi-01"), new_clip_id("pi-01")
    staged(root, moved, clip_in_staging=True)
    staged(root, not_moved, clip_in_staging=False)
    (root / ".tmp" / f"{new_clip_id('pi-01')}.gone").mkdir()  # a removal cut short stays removed
    with caplog.at_level(logging.WARNING):
        again = Spool(root, 10**9)
    entries = again.entries()
    assert sorted(e.clip_id for e in entries) == sorted([moved, not_moved])
    assert all(e.clip_path.stat().st_size == 321 and e.stage == "new" for e in entries)
    assert not list((root / ".tmp").iterdir()) and not list((root / ".recording").iterdir())
    assert "recovered" in caplog.text


def test_put_writes_the_manifest_before_the_clip_leaves_the_recording_dir(tmp_path, monkeypatch):
    spool = Spool(tmp_path / "spool", 10**9)
    clip = make_clip(spool.recording_dir, 500)
    seen = []
    real_replace = spool_module.os.replace

    def replace(src, dst):
        if str(src) == str(clip):  # the clip moves: its staged manifest must already be on disk
            seen.append((clip.parent.parent / ".tmp" / clip.stem / "manifest.json").is_file())
        return real_replace(src, dst)

    monkeypatch.setattr(spool_module.os, "replace", replace)
    spool.put(clip, {"clip_id": clip.stem, "content_type": "video/mp4", "fps": 10.0}, stage="new")
    assert seen == [True]


def test_clips_the_controller_refused_count_against_the_cap_and_go_first(tmp_path, caplog):
    spool = Spool(tmp_path / "spool", 10**9)
    refused = put(spool, tmp_path, 1000)
    spool.reject(refused, "HTTP 413: too big")
    kept = [put(spool, tmp_path, 1000).clip_id for _ in range(2)]
    spool.max_bytes = 2800  # room for two entries: the refused clip must not crowd out a clip still to send
    with caplog.at_level(logging.ERROR):
        dropped = spool.enforce_cap()
    assert dropped == [refused.clip_id]
    assert [e.clip_id for e in spool.entries()] == kept
    assert not (spool.rejected_dir / refused.clip_id).exists()
    assert f"dropped clip {refused.clip_id}" in caplog.text and "refused" in caplog.text


def test_a_swapped_in_clip_is_on_disk_before_the_manifest_points_at_it(tmp_path, monkeypatch):
    spool = Spool(tmp_path / "spool", 10**9)
    entry = put(spool, tmp_path, 1000)
    smaller = entry.path / "downscaled.tmp.mp4"
    smaller.write_bytes(b"\1" * 300)
    synced = []
    real_fsync, real_write = spool_module.os.fsync, spool_module._write_json
    monkeypatch.setattr(
        spool_module.os, "fsync", lambda fd: (synced.append(os.readlink(f"/proc/self/fd/{fd}")), real_fsync(fd))
    )
    order = []
    monkeypatch.setattr(
        spool_module, "_write_json", lambda path, data: (order.append(list(synced)), real_write(path, data))
    )
    spool.replace_clip(entry, smaller, downscaled=True)
    assert any(p.endswith("clip-sent.mp4") for p in order[0]), "the manifest named a clip not yet synced"
    assert entry.clip_path.read_bytes() == b"\1" * 300
