"""The clip ledger, both kinds (SQLite; DynamoDB on moto): idempotent adds, forward-only status,
latency medians, queries, waiting, and waking across controllers."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from edgecloud.aws import Aws
from edgecloud.clip_table import ensure_table
from edgecloud.clock import utcnow
from edgecloud.controller.ledger import DROPPED, STORING, Ledger
from edgecloud.controller.ledger_dynamo import DynamoLedger
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.messages import LabelSummary, Result


@pytest.fixture(params=["sqlite", "dynamodb"])
def open_ledger(request, tmp_path, settings):
    """open_ledger() -> a ledger of the param's kind; each call opens the same store again,
    as a restarted controller or a second one would (DynamoDB: its own client, one table)."""
    opened = []
    if request.param == "sqlite":

        def make():
            return Ledger.in_dir(tmp_path)
    else:
        from moto import mock_aws

        mock = mock_aws()
        mock.start()
        request.addfinalizer(mock.stop)
        ensure_table(Aws(settings.aws), settings.tables.clips)

        def make():
            return DynamoLedger(Aws(settings.aws), settings.tables.clips)

    def open_one():
        opened.append(make())
        return opened[-1]

    yield open_one
    for ledger in opened:
        ledger.close()


@pytest.fixture
def ledger(open_ledger):
    return open_ledger()


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
    assert (row.status, row.processed_by, row.upload_to_result_s, row.process_s, row.error) == (
        "done",
        "i-1",
        5.0,
        3.5,
        None,
    )
    with pytest.raises(ValueError):
        ledger.mark_finished(clip_id, "processing", utcnow())


def test_medians_use_recent_cloud_clips_only(ledger):
    now = utcnow()
    for n, latency in enumerate([4, 8, 100]):
        clip_id = new_clip_id("pi-01")
        ledger.add(clip_id, "pi-01", "queued", now)
        ledger.mark_finished(
            clip_id,
            "done",
            now + timedelta(seconds=latency),
            processed_by="edge" if n == 2 else "i-1",
            process_s=latency / 2,
        )
    assert ledger.medians() == (6.0, 3.0)


def test_forget_drops_a_half_recorded_clip_and_nothing_that_moved_on(ledger):
    clip_id, queued = new_clip_id("pi-01"), new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", STORING, utcnow())
    ledger.forget(clip_id)
    assert ledger.get(clip_id) is None
    assert ledger.add(clip_id, "pi-01", "queued", utcnow()) is True
    ledger.add(queued, "pi-01", "queued", utcnow())  # e.g. another controller's sweep queued it meanwhile
    ledger.forget(queued)
    assert ledger.get(queued).status == "queued"


def test_oldest_submitted_of_the_clips_still_waiting(ledger):
    now = utcnow()
    assert ledger.oldest_submitted(("queued", "processing")) is None
    ids = [new_clip_id("pi-01") for _ in range(4)]
    for clip_id, age in zip(ids, (90, 60, 40, 10)):
        ledger.add(clip_id, "pi-01", "queued", now - timedelta(seconds=age))
    ledger.mark_finished(ids[0], "done", now, processed_by="i-1")  # the oldest is no longer waiting
    ledger.mark_started(ids[1], now, "i-2")
    assert ledger.oldest_submitted(("queued", "processing")) == now - timedelta(seconds=60)
    assert ledger.oldest_submitted(("queued",)) == now - timedelta(seconds=40)


def start_waiter(ledger, clip_id, timeout):
    """A thread blocked in wait_final; returns (thread, results it appends to), once it is held there."""
    results = []
    thread = threading.Thread(target=lambda: results.append(ledger.wait_final(clip_id, timeout=timeout)), daemon=True)
    thread.start()
    assert ledger.wait_for_waiters(1, timeout=10)
    return thread, results


def test_wait_final_wakes_when_another_thread_finishes_the_clip(ledger):
    # No re-reading by the clock, no polling: only the writer's notify can wake the waiter before its timeout.
    ledger.recheck_s = ledger.poll_s = 3600
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    thread, results = start_waiter(ledger, clip_id, timeout=3600)
    ledger.mark_finished(clip_id, "failed", utcnow(), error="corrupt")
    thread.join(10)
    assert not thread.is_alive(), "wait_final was not woken by mark_finished"
    assert results[0].status == "failed" and results[0].error == "corrupt"


def test_ledger_survives_a_restart(open_ledger):
    clip_id = new_clip_id("pi-01")
    first = open_ledger()
    first.add(clip_id, "pi-01", "queued", utcnow())
    first.close()
    second = open_ledger()
    assert second.get(clip_id).status == "queued"


def test_release_waiters_answers_pending_waits(ledger):
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    ledger.recheck_s = ledger.poll_s = 3600  # only release_waiters' notify may answer the waiter
    thread, results = start_waiter(ledger, clip_id, timeout=3600)
    ledger.release_waiters()
    thread.join(10)
    assert not thread.is_alive() and results[0].status == "queued"


def test_a_ledger_from_before_labels_and_snapshots_gains_their_columns(tmp_path):
    import sqlite3

    from edgecloud.controller.ledger import Ledger as L

    path = tmp_path / "old.sqlite3"
    old = sqlite3.connect(path)
    old.execute(
        "CREATE TABLE clips (clip_id TEXT PRIMARY KEY, device_id TEXT NOT NULL, status TEXT NOT NULL,"
        " submitted_at TEXT NOT NULL, started_at TEXT, finished_at TEXT, processed_by TEXT,"
        " upload_to_result_s REAL, process_s REAL, error TEXT)"
    )
    old.commit()
    old.close()
    ledger = L(path)
    clip_id = new_clip_id("pi-01")
    ledger.add(clip_id, "pi-01", "queued", utcnow())
    result = Result(
        clip_id=clip_id,
        processed_by="edge",
        detector="hog",
        snapshot_key="snapshots/x.jpg",
        summary={"car": LabelSummary(max_count=3, frames_seen=1, best_score=0.7)},
    )
    assert ledger.mark_finished(clip_id, "done", utcnow(), result=result)
    row = ledger.get(clip_id)
    assert row.label_counts == {"car": 3} and row.snapshot_key == "snapshots/x.jpg" and row.video_dropped is False
    assert [r.clip_id for r in ledger.search(label="car")] == [clip_id] and ledger.search(label="ca") == []
    ledger.close()


def test_clips_without_their_video_are_final_and_counted_once(open_ledger):
    a, b = open_ledger(), open_ledger()  # two controllers: the count is the table's, not a process's
    record_only, with_result, whole = (new_clip_id("pi-01") for _ in range(3))
    for clip_id in (record_only, with_result):
        assert a.add(clip_id, "pi-01", STORING, utcnow(), video_dropped=True)
    a.add(whole, "pi-01", STORING, utcnow())
    assert b.videos_dropped() == 0  # not yet final: an upload that may still fail
    assert a.mark_finished(record_only, DROPPED, utcnow(), processed_by="edge")
    assert not b.mark_finished(record_only, "done", utcnow())  # final: stays dropped, counted once
    assert b.mark_finished(with_result, "done", utcnow(), processed_by="edge")
    assert a.mark_finished(whole, "done", utcnow(), processed_by="edge")
    assert (a.videos_dropped(), b.videos_dropped()) == (2, 2)
    row = b.get(record_only)
    assert row.status == DROPPED and row.final and row.video_dropped and not b.get(whole).video_dropped
    assert b.counts() == {DROPPED: 1, "done": 2}
    assert [r.clip_id for r in b.search(status=DROPPED)] == [record_only]


def test_two_controllers_race_to_finish_a_clip_and_the_first_final_state_wins(open_ledger):
    a, b = open_ledger(), open_ledger()
    clip_id = new_clip_id("pi-01")
    submitted = utcnow()
    a.add(clip_id, "pi-01", "queued", submitted)
    stale = b.get(clip_id)  # B read the clip before A finished it...
    assert a.mark_finished(clip_id, "done", submitted + timedelta(seconds=2), processed_by="i-1")
    b.get = lambda _id: stale  # ...so only the write's own guard can stop B's late 'failed'
    assert not b.mark_finished(clip_id, "failed", submitted + timedelta(seconds=3), error="late")
    assert not b.mark_started(clip_id, submitted, "i-2") and not b.mark_queued(clip_id)
    row = a.get(clip_id)
    assert (row.status, row.processed_by, row.error, row.upload_to_result_s) == ("done", "i-1", None, 2.0)


def test_lists_go_by_when_a_clip_was_recorded_not_when_it_arrived(ledger):
    """A Pi offline for a day sends its spooled clips late: they list where they were recorded."""
    now = utcnow()
    spooled = new_clip_id("pi-01", now - timedelta(days=1))
    recent = new_clip_id("pi-02", now - timedelta(minutes=2))
    newest = new_clip_id("pi-01", now - timedelta(minutes=1))
    ledger.add(recent, "pi-02", "queued", now - timedelta(seconds=100))
    ledger.add(newest, "pi-01", "queued", now - timedelta(seconds=50))
    ledger.add(spooled, "pi-01", "queued", now - timedelta(seconds=10))  # the last to arrive
    assert [r.clip_id for r in ledger.search()] == [newest, recent, spooled]
    assert [r.clip_id for r in ledger.search(limit=1, offset=1)] == [recent]
    assert [r.clip_id for r in ledger.search(device="pi-01")] == [newest, spooled]
    assert [r.clip_id for r in ledger.search(status="queued", limit=2)] == [newest, recent]
    assert [r.clip_id for r in ledger.search(day=(now - timedelta(days=1)).date().isoformat())] == [spooled]
    assert spooled not in [r.clip_id for r in ledger.search(day=now.date().isoformat())]
    assert ledger.get(spooled).recorded_at == spooled.recorded_at


def test_queries_answer_the_same_on_either_ledger(ledger):
    now = utcnow()
    earlier = now - timedelta(days=2)  # an older day: listings and medians must reach back to it
    old, cloud, edge, storing = (
        new_clip_id(d, when)
        for d, when in (
            ("pi-02", earlier - timedelta(seconds=6)),
            ("pi-01", now - timedelta(seconds=36)),
            ("pi-01", now - timedelta(seconds=16)),
            ("pi-01", now - timedelta(seconds=11)),
        )
    )  # recorded, then sent
    ledger.add(old, "pi-02", "queued", earlier)
    ledger.mark_finished(old, "done", earlier + timedelta(seconds=9), processed_by="i-9", process_s=4.0)
    ledger.add(cloud, "pi-01", "queued", now - timedelta(seconds=30))
    person = Result(
        clip_id=cloud,
        processed_by="i-1",
        detector="hog",
        summary={"person": LabelSummary(max_count=2, frames_seen=3, best_score=0.9)},
    )
    ledger.mark_finished(cloud, "done", now - timedelta(seconds=20), processed_by="i-1", process_s=6.0, result=person)
    ledger.add(edge, "pi-01", "done", now - timedelta(seconds=10), processed_by="edge", finished_at=now)
    ledger.add(storing, "pi-01", "storing", now - timedelta(seconds=5))

    assert ledger.counts() == {"done": 3, "storing": 1}
    assert ledger.first_submitted() == earlier
    assert [r.clip_id for r in ledger.search()] == [storing, edge, cloud, old]
    assert [r.clip_id for r in ledger.search(limit=2, offset=1)] == [edge, cloud]
    assert [r.clip_id for r in ledger.search(device="pi-01", status="done")] == [edge, cloud]
    assert [r.clip_id for r in ledger.search(label="person")] == [cloud]
    assert [r.clip_id for r in ledger.search(day=earlier.date().isoformat())] == [old]
    assert ledger.search(device="pi-02", day=now.date().isoformat()) == []
    assert [r.clip_id for r in ledger.recent_cloud()] == [cloud, old]
    assert ledger.medians() == (9.5, 5.0)
    assert ledger.cloud_submissions(now - timedelta(minutes=1)) == (2, now - timedelta(seconds=5))
    assert ledger.cloud_submissions(now) == (0, now - timedelta(seconds=5))
    assert [r.clip_id for r in ledger.finished_since(now - timedelta(minutes=1))] == [cloud, edge]
    assert [r.clip_id for r in ledger.storing_since_before(now)] == [storing]
    assert ledger.storing_since_before(now - timedelta(seconds=6)) == []
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    assert ledger.devices(midnight) == [
        {"device_id": "pi-01", "last_seen": now - timedelta(seconds=5), "clips_today": 3},
        {"device_id": "pi-02", "last_seen": earlier, "clips_today": 0},
    ]


@pytest.fixture
def two_dynamo_ledgers(settings):
    """Two controllers' ledgers on one DynamoDB table (moto), each with its own client."""
    from moto import mock_aws

    with mock_aws():
        ensure_table(Aws(settings.aws), settings.tables.clips)
        a, b = (DynamoLedger(Aws(settings.aws), settings.tables.clips) for _ in range(2))
        yield a, b
        a.close()
        b.close()


def test_a_wait_on_one_controller_wakes_when_another_finishes_the_clip(two_dynamo_ledgers):
    a, b = two_dynamo_ledgers
    a.recheck_s = 3600  # no waiter's own re-read: only the poller can see B's write
    clip_id = new_clip_id("pi-01")
    a.add(clip_id, "pi-01", "queued", utcnow())
    thread, results = start_waiter(a, clip_id, timeout=3600)
    assert b.mark_finished(clip_id, "done", utcnow(), processed_by="i-1")
    thread.join(10)
    assert not thread.is_alive(), "a wait on A was not woken by B's completion"
    assert results[0].status == "done" and results[0].processed_by == "i-1"


def test_a_wait_on_the_shared_ledger_rereads_only_for_its_own_clip(two_dynamo_ledgers):
    """Each re-read is a DynamoDB read: other clips' writes must not make every held wait read."""
    a, _ = two_dynamo_ledgers
    a.recheck_s = a.poll_s = 3600
    waited, others = new_clip_id("pi-01"), [new_clip_id("pi-02") for _ in range(20)]
    a.add(waited, "pi-01", "queued", utcnow())
    reads, read = [], a.get  # (reading thread, clip): the writers read rows too
    a.get = lambda clip_id: reads.append((threading.current_thread(), clip_id)) or read(clip_id)
    thread, results = start_waiter(a, waited, timeout=3600)
    for clip_id in others:  # 60 writes, each waking the waiter, none about its clip
        a.add(clip_id, "pi-02", "queued", utcnow())
        a.mark_started(clip_id, utcnow(), "i-1")
        a.mark_finished(clip_id, "done", utcnow(), processed_by="i-1")
    assert a.wait_for_waiters(1, timeout=10)
    a.mark_finished(waited, "done", utcnow(), processed_by="i-2")
    thread.join(10)
    assert not thread.is_alive() and results[0].status == "done"
    assert reads.count((thread, waited)) == 2  # when it began, and once its own clip was finished
    assert len([r for r in reads if r[0] is thread]) == 2


def test_the_poller_batches_many_waits_and_sees_forgotten_clips(two_dynamo_ledgers):
    a, b = two_dynamo_ledgers
    ids = [new_clip_id("pi-01") for _ in range(130)]  # more than one BatchGetItem holds
    for clip_id in ids:
        a.add(clip_id, "pi-01", STORING if clip_id == ids[0] else "queued", utcnow())
    assert not a.final_among(ids)
    b.mark_finished(ids[-1], "failed", utcnow(), error="corrupt")
    assert a.final_among(ids) == [ids[-1]] and not a.final_among(ids[:-1])
    b.forget(ids[0])
    assert a.final_among(ids[:-1]) == [ids[0]]


def test_a_missing_clips_table_is_a_clear_error(settings):
    from moto import mock_aws

    from edgecloud.config import ConfigError

    with mock_aws(), pytest.raises(ConfigError, match="tables.clips: no DynamoDB table 'nowhere'"):
        DynamoLedger(Aws(settings.aws), "nowhere")
