"""The buffering front: nginx, its config rendered from the settings, between clients and gunicorn.

gunicorn's threads must never wait on a client: nginx reads each request whole (headers within
``controller.client_timeout_s``, the body to disk) and only then hands it to gunicorn over loopback.
A socket that trickles its headers is closed by nginx, not served by a thread. ``serve`` binds the
public socket itself (so port 0 works) and nginx inherits it through its ``NGINX`` environment
variable; nginx runs in the foreground as serve's child, and dies with it.
"""

from __future__ import annotations

import ctypes
import grp
import logging
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Optional

from werkzeug.middleware.proxy_fix import ProxyFix

from edgecloud.config import Settings

from .auth import FRONT_SECRET
from .front_config import render_config

log = logging.getLogger(__name__)

INSTALL_HINT = "apt-get install nginx"
# Each proxied request holds two connections (client and gunicorn); hundreds of slow sockets fit.
WORKER_CONNECTIONS = 4096
MAX_WORKER_PROCESSES = 4  # one per core up to this: proxying is cheap next to what gunicorn does
STOP_WAIT_S = 10
PR_SET_PDEATHSIG = 1


class FrontError(RuntimeError):
    """nginx is missing, did not start, or died under a running controller."""


def find_nginx(binary: str) -> str:
    """The nginx executable: ``binary`` as a path, or found on PATH or in /usr/sbin (not on a user's PATH)."""
    found = shutil.which(binary, path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if found is None:
        raise FrontError(
            f"nginx not found ({binary!r}): the controller serves through it; "
            f"install it ({INSTALL_HINT}) or set controller.nginx"
        )
    return found


def worker_user() -> Optional[tuple[str, str]]:
    """(user, group) nginx's workers drop to when serve runs as root; None otherwise (they stay this user)."""
    if os.geteuid() != 0:
        return None
    for name in ("www-data", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return name, grp.getgrgid(entry.pw_gid).gr_name
    raise FrontError("running as root, but neither www-data nor nobody exists for nginx's workers")


def behind_front(app, secret: Optional[str] = None):
    """``app`` as gunicorn serves it behind exactly one proxy, nginx: remote_addr is the client's
    (as nginx saw it, whatever X-Forwarded-For the client sent), the scheme the one it used.
    ``secret``: this run's, which nginx sends with the requests it checked already (``auth.from_front``)."""
    if secret:
        app.config[FRONT_SECRET] = secret
    return ProxyFix(app, x_for=1, x_proto=1)


def _die_with_parent() -> None:
    # In the child before exec: nginx gets SIGTERM if serve dies, even by SIGKILL (nginx has its own session).
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


class Front:
    """nginx in the foreground, on ``public`` (a bound, listening socket it inherits), to ``upstream``.

    If nginx exits while serve still runs, ``on_death`` is called (serve stops: never headless)."""

    def __init__(self, settings: Settings, *, public: socket.socket, upstream: tuple[str, int], on_death=None):
        self.settings = settings
        self.secret = secrets.token_urlsafe(32)  # for behind_front: the app trusts nginx's checks, no one else's
        self.public = public
        self.upstream = upstream
        self.on_death = on_death
        self.died = False
        self._proc: Optional[subprocess.Popen] = None
        self._owner = os.getpid()  # a forked gunicorn worker passes through close() too: not its nginx
        self._stopping = False
        self.run_dir: Optional[Path] = None

    def _make_run_dir(self, user) -> Path:
        if user is None:
            data_dir = Path(self.settings.controller.data_dir)
            data_dir.mkdir(parents=True, exist_ok=True)
            return Path(tempfile.mkdtemp(prefix="front-", dir=data_dir))
        # As root, the workers are another user: a directory of theirs where any user can reach it.
        run_dir = Path(tempfile.mkdtemp(prefix="edgecloud-front-"))
        entry = pwd.getpwnam(user[0])
        os.chown(run_dir, entry.pw_uid, entry.pw_gid)
        return run_dir

    def start(self, timeout: float = 20) -> "Front":
        nginx = find_nginx(self.settings.controller.nginx)
        user = worker_user()
        self.run_dir = self._make_run_dir(user)
        conf = self.run_dir / "nginx.conf"
        conf.write_text(
            render_config(
                self.settings,
                listen=self.public.getsockname()[:2],
                upstream=self.upstream,
                run_dir=self.run_dir,
                secret=self.secret,
                user=user,
            )
        )
        fd = self.public.fileno()
        self._proc = subprocess.Popen(
            [nginx, "-e", "stderr", "-p", str(self.run_dir), "-c", str(conf)],
            env=dict(os.environ, NGINX=f"{fd};"),
            pass_fds=(fd,),
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self._await_pid_file(timeout)
        threading.Thread(target=self._watch, name="front-watch", daemon=True).start()
        log.info("nginx front (pid %s) on %s, config %s", self._proc.pid, self.public.getsockname()[:2], conf)
        return self

    def _await_pid_file(self, timeout: float) -> None:
        # nginx writes its pid file once its config loaded and its files opened; the listening socket
        # is already up (ours), so connections made before its workers run wait in the backlog.
        pid_file = self.run_dir / "nginx.pid"
        deadline = time.monotonic() + timeout
        while not pid_file.exists():
            if self._proc.poll() is not None:
                self._cleanup()
                raise FrontError(f"nginx did not start (exit {self._proc.returncode}); its error is above")
            if time.monotonic() > deadline:
                self.close()
                raise FrontError(f"nginx did not start within {timeout:g}s")
            time.sleep(0.02)

    def _watch(self) -> None:
        self._proc.wait()  # gunicorn's master may reap it first: then the status is lost, not the event
        if self._stopping:
            return
        self.died = True
        log.error("nginx (the front) exited under a running controller; stopping the controller")
        if self.on_death:
            self.on_death()

    def close(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None or os.getpid() != self._owner:
            return
        self._stopping = True
        if proc.poll() is None:
            proc.terminate()  # nginx's fast shutdown: gunicorn has stopped, nothing left to drain
            try:
                proc.wait(STOP_WAIT_S)
            except subprocess.TimeoutExpired:
                log.warning("nginx ignored SIGTERM for %ss; killing it", STOP_WAIT_S)
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # its workers too, had its master died alone
        except ProcessLookupError:
            pass
        self._cleanup()

    def _cleanup(self) -> None:
        if self.run_dir is not None:
            shutil.rmtree(self.run_dir, ignore_errors=True)
