"""Server-side dashboard sessions: Flask-Session's DynamoDB backend on ``tables.sessions``.

The cookie holds only a random session id (Flask-Session's 256-bit ``token_urlsafe``);
what it stands for (the operator, their credential's id, the CSRF token) is an item
of the shared table, so logging out on one controller ends the session on all of
them at once, and a copied cookie is worth nothing afterwards. Items keep
Flask-Session's layout (``id``, ``val``, ``expiration``, TTL on ``expiration``). Its
storage calls are ours: through the one AWS seam, reads are consistent and refuse an
expired item (DynamoDB's TTL deletes days late, at its leisure), and no table is
created when an app starts (``ensure_resources`` and the stack make it).
"""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Optional

from botocore.exceptions import ClientError
from flask import Flask, request
from flask_session.base import ServerSideSession, ServerSideSessionInterface
from flask_session.dynamodb import DynamoDBSessionInterface

from edgecloud.aws import Aws, error_code
from edgecloud.config import Settings

from ..resources import resources

_SID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")  # what token_urlsafe makes; anything else is no session


def served_over_https(settings: Settings) -> bool:
    """True when this controller's own configuration says browsers reach it over HTTPS."""
    c = settings.controller
    return bool(c.tls_cert) or (c.url or "").lower().startswith("https://")


class DashboardSessions(DynamoDBSessionInterface):
    """Flask-Session's DynamoDB sessions, stored through ``resources(app).aws`` in ``tables.sessions``."""

    def __init__(self, app: Flask, settings: Settings):
        # Not DynamoDBSessionInterface.__init__: it would try to create the table on every app start.
        ServerSideSessionInterface.__init__(self, app, key_prefix="session:", use_signer=False, permanent=True)
        self.table = settings.tables.sessions
        self.always_secure = served_over_https(settings)

    def _db(self):
        return resources(self.app).aws.dynamodb

    def get_cookie_secure(self, app: Flask) -> bool:
        # Also behind a TLS-terminating front (its X-Forwarded-Proto, trusted through ProxyFix).
        return self.always_secure or request.is_secure

    def _retrieve_session_data(self, store_id: str) -> Optional[dict]:
        if not _SID_RE.match(store_id.removeprefix(self.key_prefix)):
            return None
        item = self._db().get_item(TableName=self.table, Key={"id": {"S": store_id}}, ConsistentRead=True).get("Item")
        if item is None or float(item["expiration"]["N"]) <= time.time():
            return None
        return self.serializer.decode(item["val"]["B"])

    def _delete_session(self, store_id: str) -> None:
        self._db().delete_item(TableName=self.table, Key={"id": {"S": store_id}})

    def _upsert_session(self, session_lifetime: timedelta, session: ServerSideSession, store_id: str) -> None:
        expires = int(time.time() + session_lifetime.total_seconds())
        self._db().put_item(
            TableName=self.table,
            Item={
                "id": {"S": store_id},
                "val": {"B": self.serializer.encode(session)},
                "expiration": {"N": str(expires)},
            },
        )


def claim_once(aws: Aws, settings: Settings, name: str, lifetime_s: float) -> bool:
    """Record ``name`` as used in the sessions table (kept ``lifetime_s``, then TTL); False when it was
    used already, on any controller."""
    try:
        aws.dynamodb.put_item(
            TableName=settings.tables.sessions,
            ConditionExpression="attribute_not_exists(id)",
            Item={"id": {"S": name}, "expiration": {"N": str(int(time.time() + lifetime_s))}},
        )
    except ClientError as err:
        if error_code(err) == "ConditionalCheckFailedException":
            return False
        raise
    return True
