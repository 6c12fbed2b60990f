"""The agent's HTTP sessions to the controller: its bearer token and the CA it trusts.

The token lives in ``edge.token_file`` (written by ``edgecloud edge install``,
readable by root and the agent's user only). It is read when first needed and
again whenever the file changes, so a new token needs no restart. Without a
readable token the agent still runs: the controller answers 401, the clips
stay spooled, and the log says what to fix.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable, Optional

import requests

log = logging.getLogger(__name__)


class TokenFileAuth(requests.auth.AuthBase):
    """``Authorization: Bearer <token from path>`` on every request; nothing when there is no token."""

    def __init__(self, path: Optional[Path]):
        self.path = Path(path) if path else None
        self._lock = threading.Lock()
        self._stamp: Optional[tuple[int, int]] = None
        self._token: Optional[str] = None
        self.problem: Optional[str] = None if path else "edge.token_file is not set"

    def token(self) -> Optional[str]:
        if self.path is None:
            return None
        with self._lock:
            try:
                stat = self.path.stat()
                if (stat.st_mtime_ns, stat.st_size) != self._stamp:
                    self._token = self.path.read_text().strip() or None
                    self._stamp = (stat.st_mtime_ns, stat.st_size)
                    self.problem = None if self._token else f"token file {self.path} is empty"
            except OSError as err:
                if self.problem is None or self._token is not None:
                    log.error("cannot read the device token: %s", err)
                self._token, self._stamp = None, None
                self.problem = f"cannot read token file {self.path}: {err.strerror}"
            return self._token

    def __call__(self, request):
        token = self.token()
        if token:
            request.headers["Authorization"] = f"Bearer {token}"
        return request


class ControllerSession(requests.Session):
    """A session whose ``ca_bundle`` wins over $REQUESTS_CA_BUNDLE (which requests lets beat ``verify``)."""

    ca_bundle: Optional[str] = None

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        merged = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.ca_bundle and verify is None:
            merged["verify"] = self.ca_bundle
        return merged


def session_factory(edge_settings) -> Callable[[], requests.Session]:
    """Makes sessions that send this device's token and trust ``edge.ca_bundle`` (one auth shared by all)."""
    auth = TokenFileAuth(edge_settings.token_file)

    def make() -> requests.Session:
        session = ControllerSession()
        session.auth = auth
        if edge_settings.ca_bundle:
            session.ca_bundle = session.verify = str(edge_settings.ca_bundle)
        return session

    make.auth = auth  # type: ignore[attr-defined]
    return make


def refusal(response: requests.Response, auth=None) -> str:
    """What a 401/403 means for this device, for the log."""
    detail = response.text[:200]
    if response.status_code == 401:
        hint = getattr(auth, "problem", None) or "the token was refused (revoked, or issued for another controller?)"
        return f"HTTP 401, not authenticated: {hint}; set edge.token_file to this device's token ({detail})"
    return f"HTTP 403, not allowed: is edge.device_id the device the token was issued for? ({detail})"
