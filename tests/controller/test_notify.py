"""Alerts: rules, quiet periods, SNS (moto, read through a subscribed SQS queue) and a webhook
(a real local HTTP receiver), retried with backoff; a dead webhook never blocks the caller."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from edgecloud.config import NotifyRule
from edgecloud.controller.notify import Notifier
from edgecloud.controller.resources import make_parts
from edgecloud.protocol.ids import new_clip_id
from edgecloud.protocol.messages import LabelSummary, Result


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _result(device="pi-01", label="person", score=0.9, n=2, snapshot=True) -> Result:
    clip_id = new_clip_id(device)
    return Result(
        clip_id=clip_id,
        processed_by="i-abc",
        detector="hog",
        labels=label,
        summary={label: LabelSummary(max_count=n, frames_seen=3, best_score=score)},
        snapshot_key=f"snapshots/{clip_id}.jpg" if snapshot else None,
    )


class Receiver:
    """A local HTTP endpoint that answers the first ``fail_first`` posts with 503, then 204; or every
    post with ``redirect`` (a status and a Location)."""

    def __init__(self, fail_first=0, redirect=None):
        self.bodies: list[dict] = []
        self.tries = 0
        self.got = threading.Event()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # what a client that follows a 302 or 303 sends
                outer.tries += 1
                self.send_response(200)
                self.end_headers()

            def do_POST(self):
                outer.tries += 1
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if redirect:
                    self.send_response(redirect[0])
                    self.send_header("Location", redirect[1])
                    self.end_headers()
                    return
                if outer.tries <= fail_first:
                    self.send_response(503)
                    self.end_headers()
                    return
                outer.bodies.append(body)
                self.send_response(204)
                self.end_headers()
                outer.got.set()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


@pytest.fixture
def receiver():
    made = []

    def make(fail_first=0, redirect=None):
        made.append(Receiver(fail_first, redirect))
        return made[-1]

    yield make
    for r in made:
        r.close()


def _notifier(settings, aws, **kw) -> Notifier:
    return Notifier(
        settings,
        aws,
        snapshot_link=lambda key: f"https://s3.example/{key}?signed",
        dashboard_url="http://dash.example",
        backoff_max_s=0.05,
        **kw,
    )


def test_rules_match_labels_devices_and_scores_with_a_quiet_period(settings, mocked_aws):
    aws, _ = mocked_aws
    settings.notify.rules = [NotifyRule(labels=["person"], devices=["pi-01"], min_score=0.6, quiet_s=60)]
    settings.notify.sns_topic = None
    settings.notify.webhook_url = "http://127.0.0.1:9/never-sent"
    clock = Clock()
    n = _notifier(settings, aws, clock=clock)  # not started: offer only queues
    assert n.offer(_result(label="car")) is None
    assert n.offer(_result(device="pi-02")) is None
    assert n.offer(_result(score=0.5)) is None
    first = n.offer(_result())
    assert first["labels"] == {"person": 2} and first["dashboard_url"].startswith("http://dash.example/clips/")
    assert first["snapshot_url"].startswith("https://s3.example/snapshots/")
    assert n.offer(_result()) is None  # quiet for this device
    clock.now += 61
    assert n.offer(_result()) is not None


def test_an_alert_reaches_sns_and_the_webhook_after_retries(settings, mocked_aws, receiver):
    aws, _ = mocked_aws
    hook = receiver(fail_first=2)
    settings.notify.rules = [NotifyRule(labels=["person"])]
    settings.notify.webhook_url = hook.url
    topic = aws.sns.create_topic(Name=settings.notify.sns_topic)["TopicArn"]
    inbox = aws.sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    inbox_arn = aws.sqs.get_queue_attributes(QueueUrl=inbox, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn)
    with _notifier(settings, aws) as n:
        alert = n.offer(_result())
        assert hook.got.wait(10)
    assert hook.tries == 3 and hook.bodies == [alert]
    messages = aws.sqs.receive_message(QueueUrl=inbox, WaitTimeSeconds=1)["Messages"]
    envelope = json.loads(messages[0]["Body"])
    assert json.loads(envelope["Message"]) == alert and envelope["Subject"].startswith("pi-01: 2 person")


def test_a_dead_webhook_never_blocks_and_a_full_queue_drops(settings, mocked_aws, receiver):
    aws, _ = mocked_aws
    hook = receiver(fail_first=10**6)
    settings.notify.rules = [NotifyRule(quiet_s=0)]
    settings.notify.sns_topic = None
    settings.notify.webhook_url = hook.url
    settings.notify.queue_size = 2
    settings.notify.retries = 3
    n = _notifier(settings, aws)
    offered = [n.offer(_result()) for _ in range(3)]  # nothing delivers yet: the thread is not started
    assert offered[2] is None and n.dropped == 1
    assert n.deliver(offered[0]) is False and hook.tries == 3 and n.failed == 1


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_webhook_that_redirects_is_a_failed_delivery_never_followed(settings, mocked_aws, receiver, caplog, status):
    aws, _ = mocked_aws
    metadata = receiver()  # stands in for http://169.254.169.254/latest/meta-data/
    hook = receiver(redirect=(status, metadata.url.replace("/hook", "/latest/meta-data/")))
    settings.notify.rules = [NotifyRule(quiet_s=0)]
    settings.notify.sns_topic = None
    settings.notify.webhook_url = hook.url
    settings.notify.retries = 2
    n = _notifier(settings, aws)
    assert n.deliver(n.offer(_result())) is False and n.failed == 1
    assert hook.tries == 2 and metadata.tries == 0
    assert f"HTTP {status}, a redirect (not followed) to " in caplog.text and "/latest/meta-data/" in caplog.text


def test_no_rules_means_no_alerts(settings, mocked_aws):
    aws, _ = mocked_aws
    assert _notifier(settings, aws).offer(_result()) is None


def test_ensure_resources_creates_the_topic(settings, mocked_aws):
    aws, _ = mocked_aws
    names = [t["TopicArn"].rsplit(":", 1)[-1] for t in aws.sns.list_topics()["Topics"]]
    assert settings.notify.sns_topic in names


def test_the_controller_alerts_on_an_edge_result_it_is_sent(settings, client, receiver, vtest_mp4):
    import io

    hook = receiver()
    settings.notify.rules = [NotifyRule(labels=["person"])]
    settings.notify.sns_topic = None
    settings.notify.webhook_url = hook.url
    result = _result()
    reply = client.post(
        "/v1/clips",
        content_type="multipart/form-data",
        data={  # as device pi-01
            "clip": (io.BytesIO(vtest_mp4.read_bytes()), "c.mp4", "video/mp4"),
            "result": result.model_dump_json(),
            "metadata": json.dumps({"clip_id": result.clip_id, "device_id": "pi-01"}),
        },
    )
    assert reply.status_code == 201
    assert hook.got.wait(10)
    assert hook.bodies[0]["clip_id"] == result.clip_id and hook.bodies[0]["labels"] == {"person": 2}
    assert hook.bodies[0]["snapshot_url"] is None  # the edge sent none, so none is named


def test_the_completions_consumer_hands_each_finished_result_on(settings, mocked_aws):
    from edgecloud.clock import utcnow
    from edgecloud.controller.completions import CompletionsConsumer
    from edgecloud.controller.ledger import Ledger
    from edgecloud.controller.store import ClipStore
    from edgecloud.protocol.messages import Completion

    aws, queues = mocked_aws
    store, ledger = ClipStore(aws, queues, settings), Ledger.in_dir(settings.controller.data_dir)
    told = []
    consumer = CompletionsConsumer(
        make_parts(settings, aws=aws, queues=queues, ledger=ledger, store=store), on_finished=told.append
    )
    result = _result()
    ledger.add(result.clip_id, "pi-01", "queued", utcnow())
    store.results.put(result)
    consumer.apply(Completion(event="done", clip_id=result.clip_id, processed_by="i-abc"))
    consumer.apply(Completion(event="done", clip_id=result.clip_id, processed_by="i-abc"))  # a repeat: once
    assert [r.clip_id for r in told] == [result.clip_id]
    assert ledger.get(result.clip_id).label_counts == {"person": 2}
    ledger.close()
