"""The credentials registry on moto's DynamoDB: tokens kept as hashes, revocation bounded by the cache."""

from __future__ import annotations

import pytest

from edgecloud.credentials import CredentialError, Principal, Registry, token_hash


@pytest.fixture
def registry(settings, mocked_aws):
    aws, _ = mocked_aws
    now = [0.0]
    reg = Registry(aws, settings.tables.credentials, cache_s=30, clock=lambda: now[0])
    reg.now = now
    return reg


def stored_items(registry) -> list[dict]:
    return registry.aws.dynamodb.scan(TableName=registry.table)["Items"]


def test_a_token_resolves_to_its_holder_and_is_stored_only_as_a_hash(registry):
    token = registry.add("device", "pi-01")
    assert registry.verify(token) == Principal("device", "pi-01")
    raw = repr(stored_items(registry))
    assert token not in raw and token_hash(token) in raw


def test_wrong_missing_and_oversized_tokens_resolve_to_no_one(registry):
    registry.add("operator", "alice")
    assert registry.verify(None) is None and registry.verify("") is None
    assert registry.verify("eco_" + "x" * 43) is None
    assert registry.verify("x" * 5000) is None


def test_a_name_is_issued_once_until_revoked(registry):
    first = registry.add("device", "pi-02")
    with pytest.raises(CredentialError, match="exists already"):
        registry.add("device", "pi-02")
    registry.revoke("device", "pi-02")
    second = registry.add("device", "pi-02")
    assert second != first and registry.verify(second) == Principal("device", "pi-02")


def test_list_shows_names_never_tokens(registry):
    tokens = [registry.add("device", name) for name in ("pi-b", "pi-a")]
    registry.add("operator", "ops")
    listed = registry.list("device")
    assert [d["name"] for d in listed] == ["pi-a", "pi-b"]
    assert not any(t in repr(listed) or token_hash(t) in repr(listed) for t in tokens)


def test_a_revoked_token_stops_working_on_another_controller_once_its_cache_expires(registry, settings):
    token = registry.add("device", "pi-03")
    other = Registry(registry.aws, settings.tables.credentials, cache_s=30, clock=lambda: registry.now[0])
    assert other.verify(token) == Principal("device", "pi-03")  # now cached on the other controller
    assert registry.verify(token) == Principal("device", "pi-03")  # and on this one
    registry.revoke("device", "pi-03")
    assert registry.verify(token) is None  # at once where it was revoked
    registry.now[0] = 29.0
    assert other.verify(token) == Principal("device", "pi-03")  # still trusted inside its cache window
    registry.now[0] = 30.5
    assert other.verify(token) is None


def test_the_cache_window_is_never_over_a_minute(registry, settings):
    assert Registry(registry.aws, settings.tables.credentials, cache_s=3600).cache_s == 60


@pytest.mark.parametrize(
    "kind, name",
    [
        ("device", "../etc"),
        ("device", "Pi 01"),
        ("operator", "a" * 65),
        ("device", "pi\x00"),
        ("device", "pi-01\n"),
        ("operator", "аlice"),
    ],
)  # Cyrillic а
def test_hostile_names_are_refused(registry, kind, name):
    with pytest.raises(CredentialError):
        registry.add(kind, name)


def test_revoking_an_unknown_name_says_so(registry):
    with pytest.raises(CredentialError, match="no device named"):
        registry.revoke("device", "pi-404")
