"""Device and operator credentials: secret bearer tokens, stored only as hashes.

One DynamoDB table (``tables.credentials``) outlives any controller, so every
controller checks the same tokens. Two items per credential:
``principal#<kind>#<name>`` (who, and the hash of their token) and
``token#<sha256>`` (what a presented token resolves to). The table also keeps each
device's daily upload count (``quota#<device>#<day>``, controller/quotas.py); this module
owns every key of the table (``KEY_PREFIXES``), and the others name their items through
it. Tokens are 256 random
bits, so a plain SHA-256 is as good as a slow password hash here: there is no
dictionary to try. ``verify`` caches answers for ``cache_s`` seconds (at most
60), which bounds how long a revoked token keeps working on a controller.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Literal, Optional

from botocore.exceptions import ClientError

from .aws import Aws, error_code
from .clock import utcnow
from .dynamo_table import ensure_dynamodb_table
from .protocol.ids import DEVICE_RE

Kind = Literal["device", "operator"]
KINDS: tuple[Kind, ...] = ("device", "operator")
OPERATOR_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,63}$")
_PREFIX = {"device": "ecd_", "operator": "eco_"}  # tells a leaked token's kind at a glance
_MISS_CACHE_S = 5.0  # wrong tokens are remembered briefly, so guessing costs DynamoDB little


# The table's partition key, and the prefix of each kind of item it holds.
PK = "pk"
KEY_PREFIXES = ("principal#", "token#", "quota#", "dashboard#")


def _key(value: str) -> dict:
    return {PK: {"S": value}}


def principal_key(kind: Kind, name: str = "") -> dict:
    """Who holds a credential (``name`` empty: the prefix of every principal of ``kind``)."""
    return _key(f"principal#{kind}#{name}")


def token_key(digest: str) -> dict:
    """What the token with this SHA-256 resolves to."""
    return _key(f"token#{digest}")


def quota_key(device_id: str, day: datetime) -> dict:
    """A device's upload count on ``day`` (UTC)."""
    return _key(f"quota#{device_id}#{day:%Y-%m-%d}")


# Where the dashboard's signing key used to be kept (now in Secrets Manager): deleted at start.
OLD_DASHBOARD_KEY = _key("dashboard#secret-key")


class CredentialError(ValueError):
    """A bad name, a name already taken, or an unknown one; the message says which."""


@dataclass(frozen=True)
class Principal:
    """Who a token belongs to."""

    kind: Kind
    name: str

    @property
    def is_operator(self) -> bool:
        return self.kind == "operator"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_name(kind: Kind, name: str) -> str:
    pattern = DEVICE_RE if kind == "device" else OPERATOR_RE
    if kind not in KINDS or not isinstance(name, str) or not pattern.fullmatch(name):
        raise CredentialError(f"{kind} name {name!r} must match {pattern.pattern}")
    return name


class Registry:
    """Add, list, revoke and verify credentials in one DynamoDB table."""

    def __init__(self, aws: Aws, table: str, *, cache_s: float = 30.0, clock: Callable[[], float] = time.monotonic):
        self.aws = aws
        self.table = table
        self.cache_s = min(cache_s, 60.0)
        self.clock = clock
        self._cache: dict[str, tuple[float, Optional[Principal]]] = {}
        self._lock = threading.Lock()

    def add(self, kind: Kind, name: str) -> str:
        """Create a credential and return its token (shown once: only its hash is kept)."""
        check_name(kind, name)
        token = _PREFIX[kind] + secrets.token_urlsafe(32)
        digest, now = token_hash(token), utcnow().isoformat()
        try:
            self.aws.dynamodb.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "Item": {
                                **principal_key(kind, name),
                                "kind": {"S": kind},
                                "name": {"S": name},
                                "token_sha256": {"S": digest},
                                "created_at": {"S": now},
                                "credential_id": {"S": secrets.token_hex(16)},
                            },
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "ConditionExpression": "attribute_not_exists(pk)",
                            "Item": {**token_key(digest), "kind": {"S": kind}, "name": {"S": name}},
                        }
                    },
                ]
            )
        except ClientError as err:
            if error_code(err) in {"TransactionCanceledException", "ConditionalCheckFailedException"}:
                raise CredentialError(f"{kind} {name!r} exists already; revoke it first to issue a new token") from None
            raise
        return token

    def list(self, kind: Kind) -> list[dict]:
        """Every credential of a kind: name and when it was created (never a token or its hash)."""
        items, kwargs = [], {}
        while True:
            page = self.aws.dynamodb.scan(
                TableName=self.table,
                FilterExpression="begins_with(pk, :p)",
                ExpressionAttributeValues={":p": principal_key(kind)[PK]},
                **kwargs,
            )
            items += [{"name": i["name"]["S"], "created_at": i["created_at"]["S"]} for i in page["Items"]]
            if "LastEvaluatedKey" not in page:
                return sorted(items, key=lambda i: i["name"])
            kwargs = {"ExclusiveStartKey": page["LastEvaluatedKey"]}

    def revoke(self, kind: Kind, name: str) -> None:
        """Delete the credential; every controller refuses its token within ``cache_s``."""
        check_name(kind, name)
        item = self.aws.dynamodb.get_item(TableName=self.table, Key=principal_key(kind, name), ConsistentRead=True).get(
            "Item"
        )
        if item is None:
            raise CredentialError(f"no {kind} named {name!r}")
        self.aws.dynamodb.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": self.table, "Key": token_key(item["token_sha256"]["S"])}},
                {"Delete": {"TableName": self.table, "Key": principal_key(kind, name)}},
            ]
        )
        with self._lock:
            self._cache.clear()

    def credential_id(self, kind: Kind, name: str, digest: Optional[str] = None) -> Optional[str]:
        """The id of ``name``'s credential as it stands now, read through (never cached): a dashboard
        session keeps it, so a revoke (or a revoke and a new token) ends the session on every controller
        at its next request. None when there is none, or when ``digest`` is not its token's hash."""
        item = self.aws.dynamodb.get_item(TableName=self.table, Key=principal_key(kind, name), ConsistentRead=True).get(
            "Item"
        )
        if item is None or (digest is not None and not secrets.compare_digest(item["token_sha256"]["S"], digest)):
            return None
        return (item.get("credential_id") or item["created_at"])["S"]  # credentials from before ids: their time

    def verify(self, token: Optional[str]) -> Optional[Principal]:
        """Who holds ``token``; None for no token, a wrong one or a revoked one."""
        if not token or len(token) > 256:
            return None
        return self.verify_hash(token_hash(token))

    def known(self, token: Optional[str]) -> Optional[Principal]:
        """Who holds ``token`` if this registry checked it lately, with no read; None for any other."""
        if not token or len(token) > 256:
            return None
        cached = self._cached(token_hash(token), self.clock())
        return cached[1] if cached else None

    def _cached(self, digest: str, now: float) -> Optional[tuple[float, Optional[Principal]]]:
        with self._lock:
            cached = self._cache.get(digest)
        return cached if cached is not None and cached[0] > now else None

    def verify_hash(self, digest: str) -> Optional[Principal]:
        """Who holds the token with this SHA-256 (a dashboard login link carries only the hash)."""
        now = self.clock()
        cached = self._cached(digest, now)
        if cached:
            return cached[1]
        item = self.aws.dynamodb.get_item(TableName=self.table, Key=token_key(digest), ConsistentRead=True).get("Item")
        principal = Principal(item["kind"]["S"], item["name"]["S"]) if item else None
        with self._lock:
            if len(self._cache) > 10_000:  # many distinct wrong tokens: start over rather than grow
                self._cache.clear()
            self._cache[digest] = (now + (self.cache_s if principal else min(self.cache_s, _MISS_CACHE_S)), principal)
        return principal


def ensure_table(aws: Aws, table: str) -> None:
    """Create the credentials table if missing (demo, tests, ``--ensure-resources``)."""
    ensure_dynamodb_table(aws, table, PK)
