"""Event grouping: clips of one device closer than events.gap_s form one event, whatever order their
results arrive in, on either store, with two controllers placing clips at once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from edgecloud.aws import Aws
from edgecloud.controller.event_store import EventStore
from edgecloud.controller.events import event_clip
from edgecloud.controller.events_dynamo import DynamoEvents
from edgecloud.controller.events_sqlite import SqliteEvents
from edgecloud.event_table import ensure_table

from .events_helpers import T0, ids, newest_first, placed_events, tracked
from .test_clip_ledger import _mismatches


@pytest.fixture(params=["sqlite", "dynamodb"])
def open_store(request, tmp_path, settings):
    """open_store() -> an events store of the param's kind; each call opens the same one again
    (DynamoDB: another controller's, with its own client)."""
    if request.param == "sqlite":

        def make():
            return SqliteEvents.in_dir(tmp_path, gap_s=30)
    else:
        from moto import mock_aws

        mock = mock_aws()
        mock.start()
        request.addfinalizer(mock.stop)
        ensure_table(Aws(settings.aws), settings.tables.events)

        def make():
            return DynamoEvents(Aws(settings.aws), settings.tables.events, gap_s=30)

    opened = []
    yield lambda: opened.append(make()) or opened[-1]
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store):
    return open_store()


def place(store, result):
    return store.add_clip(event_clip(result))


def test_both_stores_are_event_stores(store):
    assert isinstance(store, EventStore)
    assert _mismatches(type(store), EventStore) == []  # every method, with the protocol's signature


def test_clips_closer_than_the_gap_form_one_event_and_a_later_one_starts_another(store):
    first, second, later = tracked(0), tracked(30), tracked(70, labels=("person", "person", "dog"), zones=("door",))
    # first ends at 5 s; second starts 25 s later (< 30): one event; later starts 35 s after second's end (>= 30).
    a = place(store, first)
    assert place(store, second).event_id == a.event_id
    b = place(store, later)
    assert b.event_id != a.event_id
    one = store.get(a.event_id)
    assert one.clip_ids == [first.clip_id, second.clip_id]
    assert (one.started_at, one.ended_at) == (T0, T0 + timedelta(seconds=35))
    other = store.get(b.event_id).as_json()
    assert (other["unique"], other["zones"], other["clip_ids"]) == ({"dog": 1, "person": 2}, ["door"], [later.clip_id])


def test_exactly_the_gap_apart_is_two_events(store):
    assert place(store, tracked(0)).event_id != place(store, tracked(35)).event_id  # 35 - 5 = 30: not less


def test_out_of_order_results_bridge_two_events_into_one(open_store):
    store = open_store()
    a, b, c = tracked(0), tracked(25), tracked(50)  # each 20 s after the last ended
    first = place(store, a)
    third = place(store, c)  # 45 s after a ended: alone, for now
    assert first.event_id != third.event_id
    merged = place(store, b)  # the late middle clip joins both
    assert merged.event_id == first.event_id  # the one that started first keeps its id
    assert merged.clip_ids == [a.clip_id, b.clip_id, c.clip_id]  # by trigger time, not arrival
    again = open_store()  # another controller: the merged-away id leads to the event
    assert again.get(third.event_id).event_id == first.event_id
    assert [e.event_id for e in again.search()] == [first.event_id]
    assert place(again, b).clip_ids == merged.clip_ids  # a result noted twice changes nothing


def test_devices_never_share_an_event(store):
    mine, theirs = place(store, tracked(0)), place(store, tracked(1, device="pi-02"))
    assert mine.event_id != theirs.event_id
    assert [e.device_id for e in store.search(device="pi-02")] == ["pi-02"]


def test_per_label_unique_is_the_most_one_clip_saw_and_sightings_the_sum(store):
    place(store, tracked(0, labels=("person",), score=0.6))
    best = tracked(10, labels=("person", "person"), score=0.95)
    event = place(store, tracked(20, labels=("person", "car"), score=0.7, snapshot=False)).as_json()
    event = place(store, best).as_json()
    assert (event["unique"], event["sightings"]) == ({"car": 1, "person": 2}, {"car": 1, "person": 4})
    assert (event["best_clip_id"], event["snapshot_key"]) == (best.clip_id, best.snapshot_key)


def test_search_filters_by_device_label_zone_and_start(store):
    door = place(store, tracked(0, labels=("person",), zones=("door",)))
    yard = place(store, tracked(100, labels=("dog",), zones=("yard",)))
    other = place(store, tracked(200, device="pi-02", labels=("person",)))
    assert [e.event_id for e in store.search()] == [other.event_id, yard.event_id, door.event_id]  # newest first
    assert [e.event_id for e in store.search(label="person")] == [other.event_id, door.event_id]
    assert [e.event_id for e in store.search(zone="yard")] == [yard.event_id]
    assert [e.event_id for e in store.search(device="pi-01", since=T0 + timedelta(seconds=50))] == [yard.event_id]
    assert [e.event_id for e in store.search(limit=1)] == [other.event_id]
    assert store.get("ev_20261203T070000000Z_pi-01_00000000") is None


def test_a_claim_is_granted_once_and_survives_a_merge(open_store):
    store = open_store()
    a, c = place(store, tracked(0)), place(store, tracked(50))
    assert store.claim(c.event_id, "rule-x") and not open_store().claim(c.event_id, "rule-x")
    merged = place(store, tracked(25))
    assert merged.claims == {"rule-x"} and not store.claim(a.event_id, "rule-x")
    assert store.claim(a.event_id, "rule-y")


def test_event_of_finds_a_placed_clip_only(store):
    first = tracked(0)
    clip = event_clip(first)
    assert store.event_of(clip) is None
    placed = store.add_clip(clip)
    assert store.event_of(clip).event_id == placed.event_id


@pytest.fixture
def atomic_moto(monkeypatch):
    """Each DynamoDB write atomic, and each read of whole items, as DynamoDB's are: moto's in-process
    backend rolls a cancelled transaction back by restoring a copy of the whole table, wiping what another
    thread wrote meanwhile, and a read during an update may see the item before its attributes are set."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()  # a transaction's own puts and updates take it again
    for name in ("transact_write_items", "update_item", "put_item", "get_item", "batch_get_item", "query"):
        method = getattr(DynamoDBBackend, name)

        def atomic(*args, _method=method, **kwargs):
            with lock:
                return _method(*args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, atomic)


def test_two_controllers_placing_one_devices_clips_at_once_agree(open_store, atomic_moto):
    stores = [open_store(), open_store()]
    results = [tracked(n * 10) for n in range(8)]  # every one chains with the next: one event
    barrier = threading.Barrier(2)

    def run(store, mine):
        barrier.wait()
        for result in mine:
            place(store, result)

    threads = [threading.Thread(target=run, args=(s, results[n::2])) for n, s in enumerate(stores)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    (event,) = stores[0].search()
    assert event.clip_ids == [r.clip_id for r in results]


def test_a_clip_placed_long_after_the_devices_newest_event_still_finds_its_own(store):
    # Older than the DynamoDB marker remembers (a day before the newest event): the index is asked.
    old = place(store, tracked(0))
    place(store, tracked(3 * 86400))
    assert place(store, tracked(20)).event_id == old.event_id


@pytest.mark.parametrize("kind", ["sqlite", "dynamodb"])
def test_a_clip_joins_its_event_where_its_result_is_stored_in_either_ledger(kind, settings):
    from moto import mock_aws

    from edgecloud.controller.clip_ledger import open_ledger
    from edgecloud.provision import ensure_resources

    settings.controller.ledger = kind
    with mock_aws():
        aws = Aws(settings.aws)
        ensure_resources(aws, settings)
        ledger = open_ledger(settings, aws)
        first, second, bare = tracked(0), tracked(10), tracked(20)
        bare = bare.model_copy(update={"objects": []})  # no tracker ran: no event
        for result in (first, second, bare):
            ledger.add(result.clip_id, "pi-01", "queued", result.recorded_at)
            assert ledger.mark_finished(
                result.clip_id, "done", result.recorded_at + timedelta(seconds=9), result=result
            )
        assert not ledger.mark_finished(second.clip_id, "done", T0, result=second)  # final already: no change
        (event,) = ledger.events.search()
        assert event.clip_ids == [first.clip_id, second.clip_id]
        ledger.close()


# -- paging back: before and before_id (controller/event_pages.py) --------------------------------------


def _page_back(search, size, **filters):
    """Every page, each asked for with the cursor the one before ended at."""
    pages, cursor = [], {}
    while True:
        page = search(**filters, **cursor, limit=size)
        pages.append(page)
        if len(page) < size:
            return pages
        cursor = {"before": page[-1].started_at, "before_id": page[-1].event_id}


@pytest.mark.parametrize("size", [1, 2, 4])
def test_paging_back_reaches_every_event_once_in_order_ties_included(store, size):
    events = placed_events(store)
    pages = _page_back(store.search, size)
    assert ids(e for page in pages for e in page) == ids(newest_first(events))
    assert ids(store.search(limit=200)) == ids(newest_first(events))  # ties in one order, on either store
    # size 2 and 4 cut the three events that share T0 between two pages: none lost, none repeated.


def test_before_alone_is_exclusive_and_keeps_strictly_older_events(store):
    events = placed_events(store)
    at_t0 = [e for e in events if e.started_at == T0]
    older = [e for e in events if e.started_at < T0]
    assert ids(store.search(before=T0)) == ids(newest_first(older))
    # At T0 with the id of the tie that sorts first: the other two ties, then the older ones.
    first_tie = newest_first(at_t0)[0]
    assert ids(store.search(before=T0, before_id=first_tie.event_id)) == ids(
        newest_first(at_t0)[1:] + newest_first(older)
    )


def test_before_combines_with_since_device_and_label(store):
    events = placed_events(store)
    before, since = T0 + timedelta(seconds=250), T0 - timedelta(hours=1)

    def expect(keep):
        return ids(newest_first(e for e in events if since <= e.started_at < before and keep(e)))

    assert ids(store.search(since=since, before=before)) == expect(lambda e: True)
    assert ids(store.search(device="pi-01", since=since, before=before)) == expect(lambda e: e.device_id == "pi-01")
    assert ids(store.search(label="dog", since=since, before=before)) == expect(lambda e: "dog" in e.labels)
    assert ids(store.search(device="pi-01", before=before)) == ids(
        newest_first(e for e in events if e.device_id == "pi-01" and e.started_at < before)
    )
    assert [p for p in _page_back(store.search, 1, device="pi-01", label="dog", since=since) if p] == [
        [e]
        for e in newest_first(e for e in events if e.device_id == "pi-01" and "dog" in e.labels)
        if e.started_at >= since
    ]
    assert store.search(since=before, before=since) == []  # an empty window (DynamoDB's BETWEEN would refuse it)
