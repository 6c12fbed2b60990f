"""Notifications once per event, not per clip, whichever controller sees the clip; rules by zone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from edgecloud.config import NotifyRule
from edgecloud.controller.clip_ledger import open_ledger

from .events_helpers import tracked
from .test_notify import Clock, _notifier


@pytest.fixture(params=["sqlite", "dynamodb"])
def ledger(request, settings, mocked_aws):
    """A controller's ledger (its events beside it) on the param's store."""
    settings.controller.ledger = request.param
    settings.notify.sns_topic = None
    settings.notify.webhook_url = "http://127.0.0.1:9/never-sent"  # not started: offer only queues
    opened = open_ledger(settings, mocked_aws[0])
    yield opened
    opened.close()


def stored(ledger, result):
    """The result stored as the completions consumer or intake stores one (its clip joins its event)."""
    ledger.add(result.clip_id, "pi-01", "queued", result.recorded_at)
    assert ledger.mark_finished(result.clip_id, "done", result.recorded_at + timedelta(seconds=8), result=result)
    return result


def test_one_alert_per_event_and_another_for_the_next_event(settings, mocked_aws, ledger):
    settings.notify.rules = [NotifyRule(labels=["person"], quiet_s=0)]  # no quiet period: only events space alerts
    n = _notifier(settings, mocked_aws[0], events=ledger.events)
    first = n.offer(stored(ledger, tracked(0)))
    assert first["event_id"] == ledger.events.search()[0].event_id
    assert n.offer(stored(ledger, tracked(10))) is None  # a later clip of the same event adds nothing
    assert n.offer(stored(ledger, tracked(20, labels=("person", "person")))) is None
    later = n.offer(stored(ledger, tracked(100)))  # 75 s after the last ended: a new event
    assert later is not None and later["event_id"] not in (None, first["event_id"])


def test_two_controllers_alert_once_for_one_event(settings, mocked_aws, ledger):
    settings.notify.rules = [NotifyRule(labels=["person"], quiet_s=0)]
    mine, theirs = (_notifier(settings, mocked_aws[0], events=ledger.events) for _ in range(2))
    assert mine.offer(stored(ledger, tracked(0))) is not None
    assert theirs.offer(stored(ledger, tracked(10))) is None  # the claim is in the store, not in memory


def test_a_rule_with_zones_wants_an_object_in_one_of_them(settings, mocked_aws, ledger):
    settings.notify.rules = [NotifyRule(labels=["person"], zones=["driveway", "gate"], quiet_s=0)]
    n = _notifier(settings, mocked_aws[0], events=ledger.events)
    assert n.offer(stored(ledger, tracked(0, zones=("door",)))) is None
    assert n.offer(stored(ledger, tracked(0, device="pi-02", zones=()))) is None  # nowhere in particular
    bare = tracked(500).model_copy(update={"objects": []})  # no tracker: no zones known, no match
    assert n.offer(stored(ledger, bare)) is None
    inside = n.offer(stored(ledger, tracked(10, labels=("person", "dog"), zones=("driveway",))))
    assert inside["labels"] == {"person": 1}  # the event's first match alerts, though its first clip did not


def test_quiet_s_spaces_new_events_and_a_quiet_event_may_alert_once_its_rule_is_free(settings, mocked_aws, ledger):
    settings.notify.rules = [NotifyRule(labels=["person"], quiet_s=60)]
    clock = Clock()
    n = _notifier(settings, mocked_aws[0], events=ledger.events, clock=clock)
    assert n.offer(stored(ledger, tracked(0))) is not None
    clock.now += 40
    assert n.offer(stored(ledger, tracked(40))) is None  # a new event, inside the quiet period
    clock.now += 21
    assert n.offer(stored(ledger, tracked(60)))["event_id"] == ledger.events.search()[0].event_id  # still going
    assert n.offer(stored(ledger, tracked(70))) is None  # and once only


def test_workers_results_through_the_completions_consumer_join_their_event_and_alert_once(settings, mocked_aws, ledger):
    from edgecloud.controller.completions import CompletionsConsumer
    from edgecloud.controller.resources import make_parts
    from edgecloud.controller.store import ClipStore
    from edgecloud.protocol.messages import Completion

    aws, queues = mocked_aws
    settings.notify.rules = [NotifyRule(labels=["person"], quiet_s=0)]
    n = _notifier(settings, aws, events=ledger.events)
    store = ClipStore(aws, queues, settings)
    consumer = CompletionsConsumer(
        make_parts(settings, aws=aws, queues=queues, ledger=ledger, store=store), on_finished=n.offer
    )
    results = [tracked(0), tracked(10)]
    for result in results:
        store.results.put_first(result)
        ledger.add(result.clip_id, "pi-01", "processing", result.recorded_at)
        consumer.apply(Completion(event="done", clip_id=result.clip_id, processed_by="i-1"))
    (event,) = ledger.events.search()
    assert event.clip_ids == [r.clip_id for r in results]
    assert n._queue.qsize() == 1  # one alert waits to go out, for the event


def test_a_rule_naming_a_zone_no_device_has_is_a_clear_error():
    from edgecloud.config import ConfigError, from_dict

    square = [[0, 0], [1, 0], [1, 1]]
    zones = {"devices": {"pi-01": {"driveway": square}, "pi-02": {"gate": square}}}
    assert from_dict({"zones": zones, "notify": {"rules": [{"zones": ["gate"]}]}}).notify.rules[0].zones == ["gate"]
    with pytest.raises(ConfigError, match=r"notify.rules.0.zones: no zone 'drivway'"):
        from_dict({"zones": zones, "notify": {"rules": [{"zones": ["drivway"]}]}})
    with pytest.raises(ConfigError, match=r"no zone 'gate' in zones: of pi-01"):
        from_dict({"zones": zones, "notify": {"rules": [{"devices": ["pi-01"], "zones": ["gate"]}]}})
