"""Operator login for the dashboard: an operator token exchanged for a session cookie.

The cookie (Flask's signed session: HttpOnly, SameSite=Lax, Secure behind TLS)
keeps only the token's SHA-256, never the token, and every request checks it
again against the credentials registry (cached ``controller.token_cache_s``),
so a revoked operator is logged out within a minute. The signing key is
``controller.secret_key`` or, when unset, one generated once and kept in the
credentials table, which every controller shares. A one-time login link (for
``edgecloud demo --serve``) is a signed, short-lived token naming a login;
using it claims its id in the same table, so it works once.
"""
from __future__ import annotations

import secrets
from typing import Optional

from botocore.exceptions import ClientError
from flask import current_app, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import BadSignature, URLSafeTimedSerializer

from edgecloud.aws import Aws, error_code
from edgecloud.config import Settings
from edgecloud.credentials import Principal, token_hash

from ..resources import get_registry, resources

LINK_SALT = "edgecloud-login-link"
LINK_MAX_AGE_S = 300
_SECRET_PK = "dashboard#secret-key"


def shared_secret(aws: Aws, table: str) -> str:
    """The dashboard's signing key from the credentials table, made by whichever controller asks first."""
    key = {"pk": {"S": _SECRET_PK}}
    item = aws.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")
    if item is None:
        try:
            aws.dynamodb.put_item(TableName=table, ConditionExpression="attribute_not_exists(pk)",
                                  Item={**key, "secret": {"S": secrets.token_urlsafe(48)}})
        except ClientError as err:
            if error_code(err) != "ConditionalCheckFailedException":
                raise
        item = aws.dynamodb.get_item(TableName=table, Key=key, ConsistentRead=True)["Item"]
    return item["secret"]["S"]


def secret_key(settings: Settings, aws: Aws) -> str:
    return settings.controller.secret_key or shared_secret(aws, settings.tables.credentials)


class SharedKeySessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the key fetched on first need (not for API calls
    that carry no cookie, so the API never waits on the key's table)."""

    def open_session(self, app, request):
        if request.cookies.get(self.get_cookie_name(app)) is None:
            return self.session_class()
        return super().open_session(app, request)

    def get_signing_serializer(self, app):
        if not app.secret_key:
            res = resources(app)
            app.secret_key = secret_key(res.settings, res.aws)
        return super().get_signing_serializer(app)


def start_session(principal: Principal, digest: str) -> None:
    session.clear()
    session.permanent = True
    session.update(th=digest, operator=principal.name, csrf=secrets.token_urlsafe(24))


def current_operator() -> Optional[str]:
    """The logged-in operator's name, checked against the registry now; None (and the session
    cleared) when there is none or the token was revoked."""
    digest = session.get("th")
    if not digest:
        return None
    principal = get_registry().verify_hash(digest)
    if principal is None or not principal.is_operator:
        session.clear()
        return None
    return principal.name


def login_with_token(token: str) -> Optional[str]:
    principal = get_registry().verify(token.strip())
    if principal is None or not principal.is_operator:
        return None
    start_session(principal, token_hash(token.strip()))
    return principal.name


def make_login_link(settings: Settings, aws: Aws, base_url: str, token: str) -> str:
    """A one-time URL that logs a browser in as the operator holding ``token`` (the token itself is
    not in it: only its hash, signed, valid LINK_MAX_AGE_S seconds)."""
    signer = URLSafeTimedSerializer(secret_key(settings, aws), salt=LINK_SALT)
    ticket = signer.dumps({"th": token_hash(token), "jti": secrets.token_hex(16)})
    return f"{base_url.rstrip('/')}/login/link/{ticket}"


def login_with_link(ticket: str) -> Optional[str]:
    res = resources()
    signer = URLSafeTimedSerializer(current_app.secret_key or secret_key(res.settings, res.aws), salt=LINK_SALT)
    try:
        claims = signer.loads(ticket, max_age=LINK_MAX_AGE_S)
    except BadSignature:  # also SignatureExpired
        return None
    if not isinstance(claims, dict) or not _claim_once(claims.get("jti", "")):
        return None
    principal = get_registry().verify_hash(claims.get("th", ""))
    if principal is None or not principal.is_operator:
        return None
    start_session(principal, claims["th"])
    return principal.name


def _claim_once(jti: str) -> bool:
    """Record the link's id as used; False when it was used already (on any controller)."""
    res = resources()
    try:
        res.aws.dynamodb.put_item(TableName=res.settings.tables.credentials,
                                  ConditionExpression="attribute_not_exists(pk)",
                                  Item={"pk": {"S": f"login-link#{jti}"}, "used_from": {"S": request.remote_addr or ""}})
    except ClientError as err:
        if error_code(err) == "ConditionalCheckFailedException":
            return False
        raise
    return True


def csrf_ok() -> bool:
    sent = request.form.get("csrf", "")
    return bool(sent) and secrets.compare_digest(sent, session.get("csrf", ""))
