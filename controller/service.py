"""A controller process: nginx in front, the API under gunicorn behind it, plus the background loops.

nginx (front.py) owns the public socket and reads every request whole before gunicorn,
bound on loopback, sees it: a slow client holds an nginx connection, never a thread.

gunicorn runs one worker process with ``controller.threads`` threads; the
loops (completions consumer, autoscaler) and the fleet live in that same
worker process, next to the app's ledger, so ``?wait=`` wakes the moment a
completion lands. Built in the worker after the fork (no threads or AWS
clients cross a fork), stopped in gunicorn's ``worker_exit`` hook.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
from typing import Callable, Optional

from gunicorn.app.base import BaseApplication

from edgecloud.aws import Aws, Queues
from edgecloud.config import ConfigError, Settings
from edgecloud.loops import StartClose
from edgecloud.provision import ensure_resources

from .app import create_app
from .clip_ledger import open_ledger
from .completions import CompletionsConsumer
from .fleet import Fleet, create_fleet
from .front import Front, FrontError, behind_front, find_nginx
from .intake import Intake
from .metrics import Metrics
from .notify import Notifier
from .reconcile import StrandedUploads
from .resources import resources
from .scaling import ScalingLoop
from .store import ClipStore

log = logging.getLogger(__name__)
READY_LINE = "controller listening on {url}"


class ControllerService(StartClose):
    """The app and the loops of one controller, sharing one ledger, store and fleet."""

    def __init__(
        self, settings: Settings, *, aws: Optional[Aws] = None, fleet: Optional[Fleet] = None, autoscale: bool = True
    ):
        self.settings = settings
        self.aws = aws or Aws(settings.aws)
        self.queues = Queues(self.aws, settings)
        self.ledger = open_ledger(settings, self.aws)
        self.store = ClipStore(self.aws, self.queues, settings)
        self.metrics = Metrics()
        self.metrics.watch_ledger(lambda: self.ledger)
        self.fleet = fleet or create_fleet(settings, self.aws)
        # Its clock starts now, before any request: alone, older 'storing' rows are a dead process's.
        self.stranded = StrandedUploads(
            Intake(self.store, self.ledger, self.metrics), shared=settings.controller.ledger == "dynamodb"
        )
        ttl = settings.notify.link_ttl_s
        self.notifier = Notifier(
            settings, self.aws, snapshot_link=lambda key: self.store.snapshot_url(key, ttl), events=self.ledger.events
        )
        self.app = create_app(settings)
        parts = resources(self.app)
        parts.attach(
            aws=self.aws,
            queues=self.queues,
            ledger=self.ledger,
            store=self.store,
            metrics=self.metrics,
            fleet=self.fleet,
            notifier=self.notifier,
        )
        self.consumer = CompletionsConsumer(parts, on_finished=self.notifier.offer)
        # A function fed by the jobs queue is scaled by Lambda: the controller launches nothing.
        autoscale = autoscale and settings.fleet.backend != "lambda"
        self.scaling = ScalingLoop(parts, lease=parts.lease) if autoscale else None
        self._closed = False

    def start(self) -> "ControllerService":
        # Make the clients and look the queues up now, not in the first upload's request.
        for service in ("s3", "sqs", "ec2", "autoscaling", "dynamodb"):
            self.aws.client(service)
        for role in ("jobs", "completions", "dead_letter"):
            getattr(self.queues, role)
        self.stranded.start()
        self.notifier.start()
        self.consumer.start()
        if self.scaling:
            self.scaling.start()
        return self

    def close(self) -> None:
        """Stop the loops, then the local workers; safe twice."""
        if self._closed:
            return
        self._closed = True
        if self.scaling:
            self.scaling.stop()
            self.scaling.lease.release()  # a clean stop hands over at once, not after the lease lapses
        self.stranded.stop()
        self.consumer.stop()
        self.notifier.stop()
        self.fleet.close()
        self.ledger.close()


def listening_socket(host: str, port: int) -> socket.socket:
    """Bind now (port 0 picks a free one) and hand the socket to gunicorn: no race for the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


class ControllerServer(BaseApplication):
    """gunicorn, configured in code: one worker process, threads, our hooks."""

    def __init__(
        self,
        settings: Settings,
        make_service: Callable[[], ControllerService],
        *,
        sock: socket.socket,
        public_url: str,
        front_secret: Optional[str] = None,
    ):
        self.settings = settings
        self.make_service = make_service
        self.sock = sock
        self.public_url = public_url
        self.front_secret = front_secret
        self.service: Optional[ControllerService] = None
        super().__init__()

    def load_config(self):
        c = self.settings.controller
        options = {
            "bind": [f"fd://{self.sock.fileno()}"],
            "workers": 1,  # the loops and the fleet must exist once
            "worker_class": "gthread",
            "threads": c.threads,
            "timeout": int(c.max_wait_s) + 60,  # a ?wait= request holds a thread that long
            "graceful_timeout": 25,
            "accesslog": "-",
            "post_worker_init": self._post_worker_init,
            "worker_exit": self._worker_exit,
        }
        if "control_socket_disable" in self.cfg.settings:
            # gunicorn >= 25.1 opens a control socket at one path per user; two controllers would share it.
            options["control_socket_disable"] = True
        for key, value in options.items():
            self.cfg.set(key, value)

    def load(self):
        self.service = self.make_service()
        resources(self.service.app).attach(public_url=self.public_url)  # status links, when controller.url is unset
        return behind_front(self.service.app, self.front_secret)

    def _post_worker_init(self, worker):
        graceful_exit = signal.getsignal(signal.SIGTERM)

        def on_sigterm(signum, frame):
            # Long ?wait= requests answer at once, so the graceful stop is not held up by them.
            self.service.ledger.release_waiters()
            graceful_exit(signum, frame)

        signal.signal(signal.SIGTERM, on_sigterm)
        if not self.service.notifier.dashboard_url:
            self.service.notifier.dashboard_url = self.public_url  # alerts link to the dashboard
        self.service.start()
        print(READY_LINE.format(url=self.public_url), flush=True)

    def _worker_exit(self, server, worker):
        if self.service is not None:
            log.info("stopping loops and local workers")
            self.service.close()


def check_tls(c) -> None:
    """Both of controller.tls_cert and tls_key, readable, or neither."""
    if bool(c.tls_cert) != bool(c.tls_key):
        raise ConfigError("bad setting: controller.tls_cert and controller.tls_key go together (both or neither)")
    for key in ("tls_cert", "tls_key"):
        path = getattr(c, key)
        if path and not os.access(path, os.R_OK):
            raise ConfigError(f"bad setting: controller.{key}: cannot read {path}")


def serve(settings: Settings, *, ensure: bool = False, autoscale: bool = True) -> None:
    """Run until SIGTERM/SIGINT (gunicorn's signals; the worker's exit hook stops the loops).

    Raises FrontError when nginx is missing or dies: serve stops rather than run without its front."""
    check_tls(settings.controller)
    find_nginx(settings.controller.nginx)  # missing: say so before anything starts
    aws = Aws(settings.aws)
    create_fleet(settings, aws).close()  # a fleet misconfiguration fails here, before gunicorn starts
    if ensure:
        ensure_resources(aws, settings)
    c = settings.controller
    public = listening_socket(c.host, c.port)
    upstream = listening_socket("127.0.0.1", 0)  # gunicorn's; only nginx connects to it
    host, port = public.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    front = Front(
        settings,
        public=public,
        upstream=upstream.getsockname()[:2],
        on_death=lambda: os.kill(os.getpid(), signal.SIGTERM),
    )  # gunicorn's master stops
    server = ControllerServer(
        settings,
        lambda: ControllerService(settings, autoscale=autoscale),
        sock=upstream,
        public_url=f"{'https' if c.tls_cert else 'http'}://{shown}:{port}",
        front_secret=front.secret,
    )
    try:
        front.start()
        public.close()  # nginx holds it now; gunicorn's worker need not
        server.run()
    except SystemExit:
        if front.died:
            raise FrontError("nginx (the front) exited, so the controller stopped; its error is above") from None
        raise
    finally:
        # The forked worker passes through here too, after gunicorn closed its copy of the socket.
        front.close()
        for sock in (public, upstream):
            with contextlib.suppress(OSError):
                sock.close()
