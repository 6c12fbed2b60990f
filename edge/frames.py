"""edge.mode frames: while motion lasts, one JPEG every ``frame_interval_s`` straight
to S3, and each frame's answer read back; the round trip of every frame recorded.

``FrameStream`` runs two loops. The sender asks the controller for a presigned
POST for each frame (one exact key the controller names,
``frames/<device>/<date>/<frame id>.jpg``; short-lived, size-capped) and posts
the frame with it. The reader long-polls the controller for the answers the
function put on this device's answers queue.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from typing import Callable, Optional

import requests

from edgecloud.config import Settings
from edgecloud.loops import BackgroundLoop
from edgecloud.protocol.client import ControllerClient

from .session import session_factory

log = logging.getLogger(__name__)


@dataclass
class FrameRecord:
    frame_id: str
    sent_at: float  # epoch seconds: the frame was taken and its upload began
    answered_at: Optional[float] = None
    labels: Optional[str] = None

    @property
    def round_trip_s(self) -> Optional[float]:
        return None if self.answered_at is None else round(self.answered_at - self.sent_at, 3)

    def as_json(self) -> dict:
        return {
            "frame_id": self.frame_id,
            "sent_at": self.sent_at,
            "answered_at": self.answered_at,
            "round_trip_s": self.round_trip_s,
            "labels": self.labels,
        }


class _Sender(BackgroundLoop):
    thread_name = "frame-sender"

    def __init__(self, stream: "FrameStream"):
        super().__init__()
        self.stream = stream

    def run(self, stop: threading.Event) -> None:
        interval = self.stream.settings.edge.frame_interval_s
        while not stop.is_set():
            if not self.stream.sensor.wait_for_active(timeout=0.2):
                continue
            began = time.monotonic()
            try:
                self.stream.send_one()
            except Exception:  # a lost frame; the next one follows on schedule
                log.warning("frame not sent", exc_info=True)
            stop.wait(max(0.0, interval - (time.monotonic() - began)))


class _Reader(BackgroundLoop):
    thread_name = "frame-answers"
    join_timeout_s = 25.0

    def __init__(self, stream: "FrameStream"):
        super().__init__()
        self.stream = stream

    def run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                self.stream.read_answers(wait_s=2)
            except requests.RequestException as err:
                log.warning("answers unavailable (%s); trying again", err)
                stop.wait(1)


class FrameStream:
    """Frames out while the sensor is active, answers in; ``records()`` holds every frame's round trip."""

    def __init__(self, settings: Settings, camera, sensor, *, clock: Callable[[], float] = time.time):
        self.settings = settings
        self.camera = camera
        self.sensor = sensor
        self.clock = clock
        self.device = settings.edge.device_id
        self.base = settings.edge.controller_url.rstrip("/")
        self.http = session_factory(settings.edge)()  # this device's token and trusted CA
        self.controller = ControllerClient(self.base, session=self.http)
        self._records: dict[str, FrameRecord] = {}
        self._cond = threading.Condition()
        self._loops = [_Sender(self), _Reader(self)]

    def start(self) -> "FrameStream":
        for loop in self._loops:
            loop.start()
        return self

    def close(self) -> None:
        for loop in self._loops:
            loop.stop()
        self.http.close()

    def grant(self) -> dict:
        """A presigned POST for the next frame: its frame id, and the fields that store it under its key."""
        r = self.controller.frame_upload(self.device, timeout=self.settings.edge.upload_timeout_s)
        r.raise_for_status()
        return r.json()

    def send_one(self) -> FrameRecord:
        import cv2

        ok, jpeg = cv2.imencode(
            ".jpg", self.camera.still(), [cv2.IMWRITE_JPEG_QUALITY, self.settings.edge.frame_quality]
        )
        if not ok:
            raise RuntimeError("could not encode the frame as JPEG")
        grant = self.grant()
        frame_id = grant["frame_id"]
        record = FrameRecord(frame_id, sent_at=round(self.clock(), 3))
        with self._cond:
            self._records[frame_id] = record
        try:
            r = self.http.post(
                grant["url"],
                data=grant["fields"],
                timeout=self.settings.edge.upload_timeout_s,
                files={"file": (f"{frame_id}.jpg", jpeg.tobytes(), "image/jpeg")},
            )
            if r.status_code >= 300:
                raise RuntimeError(f"S3 refused frame {frame_id}: {r.status_code} {r.text[:200]}")
        except BaseException:
            with self._cond:  # never sent: no answer to wait for
                del self._records[frame_id]
            raise
        return record

    def read_answers(self, wait_s: float) -> int:
        r = self.controller.frame_answers(self.device, wait_s)
        r.raise_for_status()
        answered_at = round(self.clock(), 3)
        answers = r.json()["answers"]
        with self._cond:
            for answer in answers:
                record = self._records.get(answer["frame_id"])
                if record is not None and record.answered_at is None:
                    record.answered_at, record.labels = answered_at, answer["labels"]
                    log.info(
                        "frame %s: %s in %.2f s", record.frame_id, answer["labels"] or "nothing", record.round_trip_s
                    )
            self._cond.notify_all()
        return len(answers)

    def records(self) -> list[FrameRecord]:
        with self._cond:
            return sorted(self._records.values(), key=lambda r: r.frame_id)

    def wait_answered(self, timeout: float) -> bool:
        """Until every frame sent so far has its answer (or ``timeout``)."""
        with self._cond:
            return self._cond.wait_for(lambda: all(r.answered_at for r in self._records.values()), timeout)
