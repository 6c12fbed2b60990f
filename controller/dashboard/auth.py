"""Operator login for the dashboard: an operator token exchanged for a server-side session.

The session (``sessions.py``: the cookie holds a random id, HttpOnly, SameSite=Lax,
Secure over HTTPS) keeps the operator's name and their credential's id, never the
token or its hash. Every request reads that credential's id from the registry again,
uncached, so ``edgecloud operators revoke`` ends the operator's sessions on every
controller at their next request; logging out deletes the session itself. A one-time
login link (for ``edgecloud demo --serve``) is a short-lived ticket signed with the
dashboard's key (``key.py``) naming a login; using it claims its id in the sessions
table, so it works once. A wrong token typed into the login form counts against its address
exactly as one sent to the API does (``controller.bad_token_per_min``, ``controller/auth.py``).
"""

from __future__ import annotations

import secrets
from typing import Optional

from flask import current_app, request, session
from itsdangerous import BadSignature, URLSafeTimedSerializer

from edgecloud.aws import Aws
from edgecloud.config import Settings
from edgecloud.credentials import Principal, token_hash

from ..auth import Refused, checked
from ..resources import get_registry, resources
from .key import signing_key
from .sessions import claim_once

LINK_SALT = "edgecloud-login-link"
LINK_MAX_AGE_S = 300


def start_session(operator: str, credential_id: str) -> None:
    interface = current_app.session_interface
    interface.regenerate(session)  # a fresh id at every login: none chosen before it carries over
    session.clear()
    session.update(operator=operator, credential=credential_id, csrf=secrets.token_urlsafe(24))


def current_operator() -> Optional[str]:
    """The logged-in operator's name, checked against the registry now; None (and the session
    ended) when there is none or the credential it was opened with was revoked."""
    name = session.get("operator")
    if not name:
        return None
    if get_registry().credential_id("operator", name) != session.get("credential"):
        session.clear()
        return None
    return name


def end_session() -> None:
    session.clear()  # Flask-Session deletes the stored item and the cookie


def _login(principal: Optional[Principal], digest: str) -> Optional[str]:
    if principal is None or not principal.is_operator:
        return None
    credential_id = get_registry().credential_id("operator", principal.name, digest)  # uncached: not revoked
    if credential_id is None:
        return None
    start_session(principal.name, credential_id)
    return principal.name


def login_with_token(token: str) -> Optional[str]:
    """The operator now logged in with ``token``; None for any other token. Raises ``Refused`` (429)
    when this address is past its wrong tokens: then no credential is read."""
    token = token.strip()
    if not token:
        return None
    try:
        principal = checked(token)
    except Refused as refused:
        if refused.status == 429:
            raise
        return None  # a wrong token, counted against this address
    return _login(principal, token_hash(token))


def _signer(key: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(key, salt=LINK_SALT)


def make_login_link(settings: Settings, aws: Aws, base_url: str, token: str) -> str:
    """A one-time URL that logs a browser in as the operator holding ``token`` (the token itself is
    not in it: only its hash, signed, valid LINK_MAX_AGE_S seconds)."""
    ticket = _signer(signing_key(settings, aws)).dumps({"th": token_hash(token), "jti": secrets.token_hex(16)})
    return f"{base_url.rstrip('/')}/login/link/{ticket}"


def login_with_link(ticket: str) -> Optional[str]:
    res = resources()
    if not current_app.secret_key:
        current_app.secret_key = signing_key(res.settings, res.aws)
    try:
        claims = _signer(current_app.secret_key).loads(ticket, max_age=LINK_MAX_AGE_S)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(claims, dict) or not isinstance(claims.get("th"), str):
        return None
    if not claim_once(res.aws, res.settings, f"login-link:{claims.get('jti', '')}", LINK_MAX_AGE_S):
        return None
    return _login(get_registry().verify_hash(claims["th"]), claims["th"])


def csrf_ok() -> bool:
    sent = request.form.get("csrf", "")
    return bool(sent) and secrets.compare_digest(sent, session.get("csrf", ""))
