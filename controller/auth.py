"""Who may call what: bearer tokens checked on every request, before any view runs.

Every ``/v1`` route and ``/metrics`` need ``Authorization: Bearer TOKEN``; none
or a wrong one is 401 with ``WWW-Authenticate: Bearer``; past
``controller.bad_token_per_min`` wrong ones from an address, 429 before any
registry read. Every device request takes a token of its bucket here, before
its body is read (controller/quotas.py); behind serve's nginx front that check runs
from the headers alone (``front_auth``), before nginx reads a body. ``/healthz`` stays
open (load balancers probe it); the dashboard's pages have their own login
(an operator token exchanged for a session cookie, controller/dashboard/auth.py).
Devices upload their own clips and read their
own clips and the stats (the Pi's scheduler places clips by queue depth);
operators read everything, upload nothing. Views ask ``require_device`` /
``require_reader`` once they know whose clip a request is about.
"""

from __future__ import annotations

import json
import secrets
from typing import Optional

from flask import Flask, abort, current_app, g, request

from edgecloud.credentials import Principal

from .errors import Refused
from .resources import get_quotas, get_registry

OPEN_PATHS = frozenset({"/healthz"})
FRONT_AUTH_PATH = "/_front/auth"  # nginx's auth_request, behind serve's front only
FRONT_SECRET = "EDGECLOUD_FRONT_SECRET"  # app.config: this run's secret, shared with nginx (front.behind_front)
FRONT_HEADER = "X-Edgecloud-Front"
REFUSAL_STATUS_HEADER, REFUSAL_BODY_HEADER = "X-Edgecloud-Status", "X-Edgecloud-Error"
OPERATOR_PATHS = frozenset({"/metrics"})
REALM = 'Bearer realm="edgecloud"'


def bearer_token() -> Optional[str]:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def from_front() -> bool:
    """True for a request nginx (serve's front) checked with ``front_auth`` already: it carries this run's secret."""
    secret = current_app.config.get(FRONT_SECRET)
    return bool(secret) and secrets.compare_digest(request.headers.get(FRONT_HEADER, ""), secret)


def _authenticate() -> None:
    if request.path == FRONT_AUTH_PATH:
        return  # front_auth checks the request it is asked about
    if request.path in OPEN_PATHS or request.method == "OPTIONS":
        return
    if not (request.path.startswith("/v1/") or request.path in OPERATOR_PATHS):
        return  # a dashboard page: its own session login decides
    g.principal = authenticate(counted=from_front())
    if request.path in OPERATOR_PATHS and not g.principal.is_operator:
        raise Refused(f"{request.path} is for operators", 403)


def authenticate(*, counted: bool = False) -> Principal:
    """Who sent this request's bearer token; its device's bucket token taken, unless ``counted``
    (the front's check took it for this very request, before its body was read)."""
    token = bearer_token()
    if token is None:
        raise Refused("this route needs 'Authorization: Bearer TOKEN'", 401, {"WWW-Authenticate": REALM})
    if counted:
        principal = get_registry().verify(token)  # checked a moment ago: from the registry's cache
        if principal is None:
            raise Refused("unknown or revoked token", 401, {"WWW-Authenticate": f'{REALM}, error="invalid_token"'})
        return principal
    principal = checked(token)
    if principal.kind == "device":  # here, before a body is read: a refused upload costs as much
        get_quotas().take_burst(principal.name)
    return principal


def front_auth():
    """nginx's ``auth_request``: an API request checked from its headers, before nginx reads its body.
    Allowed: 204. Refused: 403 (all auth_request passes on) with the status meant, the API's JSON body
    and its headers, which nginx answers with (``front_config``)."""
    if not from_front():
        abort(404)
    if request.headers.get("X-Original-Method") == "OPTIONS":
        return "", 204
    try:
        authenticate()
    except Refused as refused:
        return (
            "",
            403,
            {
                **refused.headers,
                REFUSAL_STATUS_HEADER: str(refused.status),
                REFUSAL_BODY_HEADER: json.dumps({"error": refused.message}),
            },
        )
    return "", 204


def checked(token: str) -> Principal:
    """Who holds ``token``. An address past its wrong tokens is refused (429) with no registry read,
    unless this is a token the registry knows already (a good device behind the same address)."""
    quotas, registry, address = get_quotas(), get_registry(), request.remote_addr or "unknown"
    throttled = quotas.wrong_tokens_refused(address)
    principal = registry.known(token) if throttled else registry.verify(token)
    if principal is not None:
        return principal
    if throttled:
        raise throttled
    quotas.count_wrong_token(address)
    raise Refused("unknown or revoked token", 401, {"WWW-Authenticate": f'{REALM}, error="invalid_token"'})


def principal() -> Principal:
    """Who sent this request (set before any view runs)."""
    return g.principal


def require_device(device_id: str) -> Principal:
    """The request must come from device ``device_id`` itself (uploads)."""
    who = principal()
    if who.kind != "device":
        raise Refused("only devices upload clips; operators read them", 403)
    if who.name != device_id:
        raise Refused(f"device {who.name!r} may not act as device {device_id!r}", 403)
    return who


def require_reader(device_id: str) -> Principal:
    """An operator, or the device the clip belongs to."""
    who = principal()
    if not who.is_operator and who.name != device_id:
        raise Refused(f"device {who.name!r} may not read clips of device {device_id!r}", 403)
    return who


def init_app(app: Flask) -> None:
    app.before_request(_authenticate)
    app.add_url_rule(FRONT_AUTH_PATH, "front_auth", front_auth)
