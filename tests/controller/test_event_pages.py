"""Paging back through ``GET /v1/events`` with ``before`` and ``before_id``, on either ledger, and with
``ControllerClient``: every event reached exactly once, in order, even those that share a start at a
page's edge; a device still sees only its own; a bad ``before`` is a clear 400. (The stores' own
paging: tests/controller/test_events.py.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from edgecloud.controller.resources import resources
from edgecloud.protocol.client import ControllerClient

from .events_helpers import T0, ids, newest_first, placed_events


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
    events = placed_events(_events_of(controller_app, ledger_kind))
    pages = _pages_through_api(operator_client, 2)
    assert [i for page in pages for i in page] == ids(newest_first(events)) and len(pages) == 5
    before = T0 + timedelta(seconds=150)
    pi01 = _pages_through_api(operator_client, 1, device="pi-01", label="dog", since="2026-12-03", before=before)
    assert [i for page in pi01 for i in page] == ids(
        newest_first(e for e in events if e.device_id == "pi-01" and "dog" in e.labels and T0 <= e.started_at < before)
    )


def test_a_device_pages_through_its_own_events_only(ledger_kind, client, controller_app):
    events = placed_events(_events_of(controller_app, ledger_kind))
    pages = _pages_through_api(client, 1)
    assert [i for page in pages for i in page] == ids(newest_first(e for e in events if e.device_id == "pi-01"))
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
    events = placed_events(resources(controller_app).ledger.events)
    seen, cursor = [], {}
    with ControllerClient(served, token=operator_token) as ops:
        while True:
            body = ops.events(limit=3, **cursor).json()  # next_before has no "+" but any "+00:00" is escaped
            seen += [e["event_id"] for e in body["events"]]
            if body["next_before"] is None:
                break
            cursor = {"before": body["next_before"], "before_id": body["next_before_id"]}
        older = ops.events(before=(T0 + timedelta(seconds=100)).isoformat()).json()["events"]
    assert seen == ids(newest_first(events))
    assert [e["event_id"] for e in older] == ids(
        newest_first(e for e in events if e.started_at < T0 + timedelta(seconds=100))
    )
