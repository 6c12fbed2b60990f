"""Edge fixtures: a mock PIR pin, a fast file camera on real footage, a fake picamera2."""

from __future__ import annotations

import sys
import types
from pathlib import Path

import pytest
from gpiozero.pins.mock import MockFactory

from edgecloud.edge.camera.file import FileCamera
from edgecloud.edge.sensor import create_motion_sensor, wait_until_sampling

SPEED = 10.0  # video seconds per wall second: an 8 s motion takes 0.8 s


@pytest.fixture
def pins():
    """A MockFactory of our own (no process-wide default); yields it, then closes its devices."""
    factory = MockFactory()
    yield factory
    factory.close()


@pytest.fixture
def edge_settings(settings, vtest_avi):
    """Edge settings on real footage, played fast."""
    settings.edge.video = vtest_avi
    settings.edge.camera = "file"
    settings.edge.playback_speed = SPEED
    settings.edge.cooldown_seconds = 1.0
    settings.edge.result_wait_s = 1.0  # long polls end soon after a test
    return settings


@pytest.fixture
def controller_app(controller_app, settings, device_token, tmp_path):
    """The real controller app; the agent finds device pi-01's token in edge.token_file."""
    token_file = tmp_path / "device-token"
    token_file.write_text(device_token + "\n")
    settings.edge.token_file = token_file
    return controller_app


@pytest.fixture
def pir(pins, edge_settings):
    """(sensor, pin): a MotionSensor on the configured pin, already sampling."""
    sensor = create_motion_sensor(edge_settings.edge, pin_factory=pins, sample_rate=50)
    assert wait_until_sampling(sensor)
    yield sensor, pins.pin(edge_settings.edge.pir_pin)
    sensor.close()


@pytest.fixture
def file_camera(vtest_avi):
    with FileCamera(vtest_avi, preroll_seconds=1.0, playback_speed=SPEED) as camera:
        yield camera


class Recorded:
    """Records every call made on a fake picamera2 object: (name, args, kwargs)."""

    calls: list = []

    def __init__(self, *args, **kwargs):
        self.args, self.kwargs = args, kwargs
        Recorded.calls.append((type(self).__name__, args, kwargs))

    def __getattr__(self, name):
        def method(*args, **kwargs):
            Recorded.calls.append((f"{type(self).__name__}.{name}", args, kwargs))
            return {"config": kwargs} if name.startswith("create_") else None

        return method


@pytest.fixture
def fake_picamera2(monkeypatch):
    """A stand-in ``picamera2`` package in sys.modules; yields the list of calls made on it."""
    names = ["Picamera2", "H264Encoder", "CircularOutput2", "PyavOutput"]
    classes = {name: type(name, (Recorded,), {}) for name in names}
    root = types.ModuleType("picamera2")
    root.Picamera2 = classes["Picamera2"]
    encoders = types.ModuleType("picamera2.encoders")
    encoders.H264Encoder = classes["H264Encoder"]
    outputs = types.ModuleType("picamera2.outputs")
    outputs.CircularOutput2, outputs.PyavOutput = classes["CircularOutput2"], classes["PyavOutput"]
    root.encoders, root.outputs = encoders, outputs
    for name, module in {"picamera2": root, "picamera2.encoders": encoders, "picamera2.outputs": outputs}.items():
        monkeypatch.setitem(sys.modules, name, module)
    Recorded.calls = []
    yield Recorded.calls


def analysed_on_the_pi(settings, clip: Path, clip_id: str, timeout: float = 120):
    """The result the Pi's own processor (``LocalProcessor``, the real pipeline) gives for one clip."""
    from edgecloud.edge.local import LocalProcessor

    done = []
    processor = LocalProcessor(settings, lambda item, result, seconds: done.append(result)).start()
    try:
        processor.submit("entry", path=clip, clip_id=clip_id, fps=None)
        assert processor.wait_idle(timeout)
    finally:
        processor.close()
    (result,) = done
    return result


def source_frame(video: Path, index: int):
    """Frame ``index`` of ``video`` as a grey numpy array."""
    import av

    with av.open(str(video)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="gray").astype(float)
    raise IndexError(index)


def first_frame(clip: Path):
    import av

    with av.open(str(clip)) as container:
        frame = next(container.decode(video=0))
        return frame.time, frame.to_ndarray(format="gray").astype(float)


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServedController:
    """A WSGI app served on 127.0.0.1:port in a thread; records every POST /v1/clips answer."""

    def __init__(self, app, port: int = 0, hold=None):
        import threading

        from werkzeug.serving import make_server

        self.posts: list[dict] = []  # {"status": int, "clip_id", "duplicate"}
        self._lock = threading.Lock()
        self._in_flight = 0
        self.hold = hold  # called after the app answered a POST, before the answer is sent
        self.server = make_server("127.0.0.1", port, self._recording(app), threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _recording(self, app):
        import json

        def wsgi(environ, start_response):
            captured = {}

            def capture(status, headers, exc_info=None):
                captured["status"] = int(status.split()[0])
                return start_response(status, headers, exc_info)

            if environ["PATH_INFO"] != "/v1/clips" or environ["REQUEST_METHOD"] != "POST":
                with self._counting():
                    return list(app(environ, start_response))
            held = {}

            def late_start(status, headers, exc_info=None):
                held["args"] = (status, headers, exc_info)
                return lambda data: None

            body = b"".join(app(environ, late_start))
            status = int(held["args"][0].split()[0])
            record = {"status": status}
            if status == 201:
                reply = json.loads(body)
                record.update(clip_id=reply["clip_id"], duplicate=reply.get("duplicate"))
            self.posts.append(record)
            if self.hold is not None:
                self.hold(record)
            start_response(*held["args"])
            return [body]

        return wsgi

    def _counting(self):
        import contextlib

        @contextlib.contextmanager
        def counted():
            with self._lock:
                self._in_flight += 1
            try:
                yield
            finally:
                with self._lock:
                    self._in_flight -= 1

        return counted()

    def stored(self) -> list[str]:
        """Clip ids the controller stored (first arrivals)."""
        return [p["clip_id"] for p in self.posts if p["status"] == 201 and not p.get("duplicate")]

    def close(self):
        import time

        self.server.shutdown()
        # Let long polls still in flight end before the app's resources are closed.
        deadline = time.monotonic() + 15
        while self._in_flight and time.monotonic() < deadline:
            time.sleep(0.05)
        self.server.server_close()


@pytest.fixture
def serve():
    """serve(app, port=0, hold=None) -> ServedController; all are shut down afterwards."""
    served = []

    def start(app, port=0, hold=None):
        served.append(ServedController(app, port, hold))
        return served[-1]

    yield start
    for s in served:
        s.close()


def stored_clip_keys(mocked_aws, settings) -> list[str]:
    aws, _ = mocked_aws
    listing = aws.s3.list_objects_v2(Bucket=settings.storage.clips_bucket, Prefix="clips/")
    return [o["Key"] for o in listing.get("Contents", [])]
