"""Alerts: a finished clip that matches a rule (``notify.rules``) is published to an SNS
topic and/or POSTed as JSON to a webhook, from a background thread.

``offer`` only matches and enqueues (a bounded queue: when it is full the alert
is dropped and logged), so a slow or dead webhook never holds up a result.
Each channel is tried ``notify.retries`` times with exponential backoff
(tenacity); the backoff waits on the loop's stop event, so stopping is quick.
A rule that fired stays quiet for ``quiet_s`` per device.

Clips of one event (controller/events.py) alert once per rule: the rule claims the event
(``EventStore.claim``, shared by every controller) and a later clip of it adds nothing; a new event
after the gap alerts again, once its rule's quiet period is over. A result without tracked objects
forms no event and alerts per clip, as before (quiet_s alone spaces them).
"""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
from typing import Callable, Optional

import requests
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from edgecloud.aws import Aws
from edgecloud.config import NotifyRule, Settings
from edgecloud.loops import BackgroundLoop
from edgecloud.protocol.ids import parse_clip_id
from edgecloud.protocol.messages import Result
from edgecloud.shown import shown

from .events import event_clip
from .notify_events import EventGate, in_zones

log = logging.getLogger(__name__)


class DeliveryError(Exception):
    """One try of one channel failed (a transport error or a non-2xx answer)."""


def matching_labels(rule: NotifyRule, device_id: str, result: Result) -> dict[str, int]:
    """The labels (and most seen in one frame; with ``zones``, tracked objects in them) that make ``result``
    match ``rule``; empty: no match."""
    if result.status != "done" or (rule.devices and device_id not in rule.devices):
        return {}
    if rule.zones:
        return in_zones(rule, result)
    return {
        label: s.max_count
        for label, s in result.summary.items()
        if (not rule.labels or label in rule.labels) and s.best_score >= rule.min_score
    }


class Notifier(BackgroundLoop):
    """Matches finished results against the rules and delivers alerts on its own thread."""

    thread_name = "notify"

    def __init__(
        self,
        settings: Settings,
        aws: Aws,
        *,
        snapshot_link: Callable[[str], str],
        dashboard_url: Optional[str] = None,
        clock: Callable[[], float] = time.monotonic,
        backoff_max_s: float = 30.0,
        events=None,
    ):
        super().__init__()
        self.events = EventGate(events)  # events: the EventStore (or a callable giving it); None: per clip
        self.config = settings.notify
        self.aws = aws
        self.snapshot_link = snapshot_link  # snapshot key -> a presigned URL
        self.dashboard_url = dashboard_url or settings.controller.url
        self.clock = clock
        self.backoff_max_s = backoff_max_s
        self.http = requests.Session()
        self._queue: queue.Queue[dict] = queue.Queue(maxsize=self.config.queue_size)
        self._quiet_until: dict[tuple[int, str], float] = {}
        self._lock = threading.Lock()
        self._topic_arn: Optional[str] = None
        self.sent = 0
        self.dropped = 0
        self.failed = 0

    @property
    def enabled(self) -> bool:
        return bool(self.config.rules) and bool(self.config.sns_topic or self.config.webhook_url)

    # -- matching (any thread) ---------------------------------------------------------

    def offer(self, result: Result) -> Optional[dict]:
        """Queue an alert if ``result`` matches a rule not in its quiet period; returns the alert."""
        if not self.enabled:
            return None
        _, device_id = parse_clip_id(result.clip_id)
        event, looked = None, False  # the clip's event, read once a rule matches
        now = self.clock()
        with self._lock:
            for n, rule in enumerate(self.config.rules):
                labels = matching_labels(rule, device_id, result)
                if not labels or self._quiet_until.get((n, device_id), 0.0) > now:
                    continue
                if not looked:
                    event, looked = self.events.of(event_clip(result)), True
                if self.events.claim(event, rule):
                    self._quiet_until[(n, device_id)] = now + rule.quiet_s
                    break
            else:
                return None
        alert = self._alert(result, device_id, labels, event)
        try:
            self._queue.put_nowait(alert)
        except queue.Full:
            self.dropped += 1
            log.warning("alert for %s dropped: %d alerts are waiting already", result.clip_id, self._queue.qsize())
            return None
        return alert

    def _alert(self, result: Result, device_id: str, labels: dict[str, int], event=None) -> dict:
        dashboard = self.dashboard_url.rstrip("/") + f"/clips/{result.clip_id}" if self.dashboard_url else None
        return {
            "event_id": event.event_id if event else None,
            "clip_id": result.clip_id,
            "device_id": device_id,
            "labels": labels,
            "best_score": round(result.best_score, 4),
            "processed_by": result.processed_by,
            "finished_at": result.finished_at.isoformat() if result.finished_at else None,
            "snapshot_url": self.snapshot_link(result.snapshot_key) if result.snapshot_key else None,
            "dashboard_url": dashboard,
        }

    # -- delivery (the loop's thread) --------------------------------------------------

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                alert = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            self.deliver(alert)

    def deliver(self, alert: dict) -> bool:
        """Send one alert on every configured channel; True when all took it."""
        ok = True
        for channel, send in (
            ("sns", self._publish if self.config.sns_topic else None),
            ("webhook", self._post if self.config.webhook_url else None),
        ):
            if send is None:
                continue
            try:
                for attempt in Retrying(
                    stop=stop_after_attempt(self.config.retries),
                    wait=wait_exponential(multiplier=0.5, max=self.backoff_max_s),
                    retry=retry_if_exception_type(DeliveryError),
                    sleep=self._stop.wait,
                    reraise=True,
                ):
                    with attempt:
                        if self.stopping and attempt.retry_state.attempt_number > 1:
                            raise _Stopped()
                        send(alert)
            except (DeliveryError, _Stopped) as err:
                ok = False
                self.failed += 1
                log.warning("alert for %s not delivered by %s: %s", alert["clip_id"], channel, err)
        if ok:
            self.sent += 1
        return ok

    def _publish(self, alert: dict) -> None:
        try:
            self.aws.sns.publish(TopicArn=self._topic(), Subject=_subject(alert), Message=json.dumps(alert))
        except Exception as err:  # noqa: BLE001 - botocore's errors and a lost connection alike are retried
            raise DeliveryError(f"{type(err).__name__}: {err}") from err

    def _post(self, alert: dict) -> None:
        try:
            # Never redirected: a 3xx could send the alert (or the next hop) anywhere, e.g. to a metadata service.
            reply = self.http.post(
                self.config.webhook_url, json=alert, timeout=self.config.webhook_timeout_s, allow_redirects=False
            )
        except requests.RequestException as err:
            raise DeliveryError(f"{type(err).__name__}: {err}") from err
        if reply.is_redirect:
            where = shown(reply.headers["Location"])
            raise DeliveryError(f"HTTP {reply.status_code}, a redirect (not followed) to {where}")
        if not 200 <= reply.status_code < 300:  # requests' reply.ok takes any 3xx too
            raise DeliveryError(f"HTTP {reply.status_code}: {reply.text[:200]}")

    def _topic(self) -> str:
        topic = self.config.sns_topic
        if self._topic_arn is None:
            if topic.startswith("arn:"):
                self._topic_arn = topic
            else:
                pages = self.aws.sns.get_paginator("list_topics").paginate()
                arns = [t["TopicArn"] for page in pages for t in page["Topics"]]
                found = [arn for arn in arns if arn.rsplit(":", 1)[-1] == topic]
                if not found:
                    raise DeliveryError(f"no SNS topic named {topic!r}")
                self._topic_arn = found[0]
        return self._topic_arn


class _Stopped(Exception):
    """The controller is stopping: no more retries."""


def _subject(alert: dict) -> str:
    seen = ", ".join(f"{n} {label}" for label, n in alert["labels"].items())
    return f"{alert['device_id']}: {seen}"[:100]  # SNS subjects stop at 100 characters
