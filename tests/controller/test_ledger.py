"""The clip ledger: idempotent adds, forward-only status, latency medians, waiting."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from edgecloud.controller.ledger import Ledger
from edgecloud.jobs import new_clip_id, utcnow


@pytest.fixture
def ledger(tmp_path):
    ledger = Ledger.in_dir(tmp_path)
    yield ledger
    ledger.close()


def test_add_is_idempotent(ledger):
    clip_id = new_clip_id("pi-01")
    assert ledger.add(clip_id, "pi-01", "queued", utcnow()) is True
    assert ledger.add(clip_id, "pi-01", "queued", utcnow()) is False
    assert ledger.counts() == {"queued": 1}


def test_status_only_moves_forward(ledger):
    clip_id = new_clip_id("pi-01")
    submitted = utcnow()
    ledger.add(clip_id, "pi-01", "queued", submitted)
    assert ledger.mark_started(clip_id, submitted + timedelta(seconds=1), "i-1")
    assert ledger.mark_finished(clip_id, "done", submitted + timedelta(seconds=5), process_s=3.5)
    # A late 'started' or a second final state changes nothing.
    assert not ledger.mark_started(clip_id, submitted + timedelta(seconds=6), "i-2")
    assert not ledger.mark_finished(clip_id, "failed", submitted + timedelta(seconds=7), error="late")
    row = ledger.get(clip_id)
    assert (row.status, row.processed_by, row.upload_to_result_s, row.process_s, row.error) == ("done", "i-1", 5.0, 3.5, None)
    with pytest.raises(ValueError):
        ledger.mark_finished(clip_id, "processing", utcnow())


def test_medians_use_recent_cloud_clips_only(ledger):
    now = utcnow()
    for n, latency in enumerate([4, 8, 100]):
        clip_id = new_clip_id("pi-01")
        ledger.add(clip_id, "pi-01", "queued", now)
        ledger.mark_finished(clip_id, "done", now + timedelta(seconds=latency), processed_by="edge" if n == 2 else "i-1",
                             process_s=latency / 2)
    assert ledger.medians() == (6.0, 3.0)


def test_forget_drops_a_half_recorded_clip(ledger):
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    ledger.forget(clip_id)
    assert ledger.get(clip_id) is None
    assert ledger.add(clip_id, "pi-01", "queued", utcnow()) is True


def start_waiter(ledger, clip_id, timeout):
    """A thread blocked in wait_final; returns (thread, results it appends to), once it is held there."""
    results = []
    thread = threading.Thread(target=lambda: results.append(ledger.wait_final(clip_id, timeout=timeout)), daemon=True)
    thread.start()
    assert ledger.wait_for_waiters(1, timeout=10)
    return thread, results


def test_wait_final_wakes_when_another_thread_finishes_the_clip(ledger):
    # No re-reading by the clock: only the writer's notify can wake the waiter before its timeout.
    ledger.recheck_s = 3600
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    thread, results = start_waiter(ledger, clip_id, timeout=3600)
    ledger.mark_finished(clip_id, "failed", utcnow(), error="corrupt")
    thread.join(10)
    assert not thread.is_alive(), "wait_final was not woken by mark_finished"
    assert results[0].status == "failed" and results[0].error == "corrupt"


def test_ledger_survives_a_restart(tmp_path):
    clip_id = new_clip_id("pi-01")
    first = Ledger.in_dir(tmp_path)
    first.add(clip_id, "pi-01", "queued", utcnow())
    first.close()
    second = Ledger.in_dir(tmp_path)
    assert second.get(clip_id).status == "queued"
    second.close()


def test_release_waiters_answers_pending_waits(ledger):
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    ledger.recheck_s = 3600  # only release_waiters' notify may answer the waiter
    thread, results = start_waiter(ledger, clip_id, timeout=3600)
    ledger.release_waiters()
    thread.join(10)
    assert not thread.is_alive() and results[0].status == "queued"
