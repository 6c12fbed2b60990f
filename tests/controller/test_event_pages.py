"""Paging back through events: ``before`` (exclusive, the mirror of ``since``) and ``before_id``, on
both stores, through the API and ``ControllerClient``: every event reached exactly once, in order,
even those that share a start at a page's edge; a device still sees only its own."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edgecloud.controller.resources import resources
from edgecloud.protocol.client import ControllerClient

from .events_helpers import T0, tracked
from .test_events import open_store, place, store  # noqa: F401 (fixtures: both stores)

DAY = 86400


def _placed(store):
    """Nine events over two days; three devices' events start at one instant, twice (ties)."""
    at = [(-DAY, "pi-01", ("person",)), (-DAY + 60, "pi-02", ("dog",))]
    at += [(0, d, ("person",)) for d in ("pi-01", "pi-02", "pi-03")]
    at += [(100, "pi-01", ("dog",)), (200, "pi-01", ("person", "dog")), (200, "pi-02", ("person",))]
    at += [(300, "pi-03", ("car",))]
    return [place(store, tracked(s, device=d, labels=labels)) for s, d, labels in at]


def _newest_first(events):
    return sorted(events, key=lambda e: (e.started_at, e.event_id), reverse=True)


def _ids(events):
    return [e.event_id for e in events]


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
    events = _placed(store)
    pages = _page_back(store.search, size)
    assert _ids(e for page in pages for e in page) == _ids(_newest_first(events))
    assert _ids(store.search(limit=200)) == _ids(_newest_first(events))  # ties in one order, on either store
    # size 2 and 4 cut the three events that share T0 between two pages: none lost, none repeated.


def test_before_alone_is_exclusive_and_keeps_strictly_older_events(store):
    events = _placed(store)
    at_t0 = [e for e in events if e.started_at == T0]
    older = [e for e in events if e.started_at < T0]
    assert _ids(store.search(before=T0)) == _ids(_newest_first(older))
    # At T0 with the id of the tie that sorts first: the other two ties, then the older ones.
    first_tie = _newest_first(at_t0)[0]
    assert _ids(store.search(before=T0, before_id=first_tie.event_id)) == _ids(
        _newest_first(at_t0)[1:] + _newest_first(older)
    )


def test_before_combines_with_since_device_and_label(store):
    events = _placed(store)
    before, since = T0 + timedelta(seconds=250), T0 - timedelta(hours=1)

    def expect(keep):
        return _ids(_newest_first(e for e in events if since <= e.started_at < before and keep(e)))

    assert _ids(store.search(since=since, before=before)) == expect(lambda e: True)
    assert _ids(store.search(device="pi-01", since=since, before=before)) == expect(lambda e: e.device_id == "pi-01")
    assert _ids(store.search(label="dog", since=since, before=before)) == expect(lambda e: "dog" in e.labels)
    assert _ids(store.search(device="pi-01", before=before)) == _ids(
        _newest_first(e for e in events if e.device_id == "pi-01" and e.started_at < before)
    )
    assert [p for p in _page_back(store.search, 1, device="pi-01", label="dog", since=since) if p] == [
        [e]
        for e in _newest_first(e for e in events if e.device_id == "pi-01" and "dog" in e.labels)
        if e.started_at >= since
    ]
    assert store.search(since=before, before=since) == []  # an empty window (DynamoDB's BETWEEN would refuse it)


# -- through the API, on either ledger --------------------------------------------------------------


@pytest.fixture(params=["sqlite", "dynamodb"])
def ledger_kind(request, settings):
    settings.controller.ledger = request.param  # before the app opens its ledger
    return request.param


def _pages_through_api(http, size, **query):
    """The ids of each page, following each reply's next_before and next_before_id."""
    pages, cursor = [], {}
    while True:
        reply = http.get("/v1/events", query_string={**query, **cursor, "limit": size})
        assert reply.status_code == 200, reply.get_json()
        body = reply.get_json()
        pages.append([e["event_id"] for e in body["events"]])
        if body["next_before"] is None:
            assert len(body["events"]) < size and body["next_before_id"] is None
            return pages
        assert body["next_before_id"] == body["events"][-1]["event_id"]
        cursor = {"before": body["next_before"], "before_id": body["next_before_id"]}


def _events_of(app, kind):
    store = resources(app).ledger.events
    assert type(store).__name__ == {"sqlite": "SqliteEvents", "dynamodb": "DynamoEvents"}[kind]
    return store


def test_operators_page_back_through_the_api(ledger_kind, operator_client, controller_app):
    events = _placed(_events_of(controller_app, ledger_kind))
    pages = _pages_through_api(operator_client, 2)
    assert [i for page in pages for i in page] == _ids(_newest_first(events)) and len(pages) == 5
    before = T0 + timedelta(seconds=150)
    pi01 = _pages_through_api(operator_client, 1, device="pi-01", label="dog", since="2026-12-03", before=before)
    assert [i for page in pi01 for i in page] == _ids(
        _newest_first(e for e in events if e.device_id == "pi-01" and "dog" in e.labels and T0 <= e.started_at < before)
    )


def test_a_device_pages_through_its_own_events_only(ledger_kind, client, controller_app):
    events = _placed(_events_of(controller_app, ledger_kind))
    pages = _pages_through_api(client, 1)
    assert [i for page in pages for i in page] == _ids(_newest_first(e for e in events if e.device_id == "pi-01"))
    assert client.get("/v1/events?device=pi-02&before=2026-12-03T07:00:00Z").status_code == 403


@pytest.mark.parametrize(
    "query, says",
    [
        ("?before=yesterday", "before: not an ISO 8601 time"),
        ("?before=2026-02-30", "before: not an ISO 8601 time"),
        ("?before_id=ev_20261203T070000000Z_pi-01_3fa9c2d1", "before_id: only with before"),
        ("?before=2026-12-03T07:00:00Z&before_id=nope", "before_id: not an event id"),
    ],
)
def test_a_bad_before_is_a_clear_400(operator_client, query, says):
    reply = operator_client.get("/v1/events" + query)
    assert reply.status_code == 400 and says in reply.get_json()["error"]


def test_the_client_pages_back_with_before(served, operator_token, controller_app):
    events = _placed(resources(controller_app).ledger.events)
    seen, cursor = [], {}
    with ControllerClient(served, token=operator_token) as ops:
        while True:
            body = ops.events(limit=3, **cursor).json()  # next_before has no "+" but any "+00:00" is escaped
            seen += [e["event_id"] for e in body["events"]]
            if body["next_before"] is None:
                break
            cursor = {"before": body["next_before"], "before_id": body["next_before_id"]}
        older = ops.events(before=(T0 + timedelta(seconds=100)).isoformat()).json()["events"]
    assert seen == _ids(_newest_first(events))
    assert [e["event_id"] for e in older] == _ids(
        _newest_first(e for e in events if e.started_at < T0 + timedelta(seconds=100))
    )
