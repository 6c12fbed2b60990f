"""Wrong tokens, counted per source address: past ``controller.bad_token_per_min`` in a minute an address
is answered 429 with no credentials read, while other addresses and known good tokens carry on."""

from __future__ import annotations

import secrets

import pytest

ATTACKER, NEIGHBOUR = "203.0.113.7", "198.51.100.20"


@pytest.fixture
def credential_reads(settings, mocked_aws) -> list:
    """Every read of the credentials table from now on (a token check is one), as botocore is about to make it."""
    reads = []

    def seen(params, **_):
        if params["TableName"] == settings.tables.credentials:
            reads.append(params["Key"])

    mocked_aws[0].dynamodb.meta.events.register("before-parameter-build.dynamodb.GetItem", seen)
    return reads


def _stats(app, token: str, address: str):
    return app.test_client().get(
        "/v1/stats", headers={"Authorization": f"Bearer {token}"}, environ_base={"REMOTE_ADDR": address}
    )


def _wrong() -> str:
    return "ecd_" + secrets.token_urlsafe(32)  # a new one each time: the registry's cache of misses never answers


def test_the_21st_wrong_token_from_an_address_in_a_minute_is_429_without_a_read(
    settings, controller_app, device_token, credential_reads
):
    assert settings.controller.bad_token_per_min == 20
    assert _stats(controller_app, device_token, ATTACKER).status_code == 200  # the good device, known from now on
    reads = len(credential_reads)
    assert [_stats(controller_app, _wrong(), ATTACKER).status_code for _ in range(20)] == [401] * 20
    assert len(credential_reads) == reads + 20

    refused = _stats(controller_app, _wrong(), ATTACKER)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert "wrong tokens" in refused.get_json()["error"]
    assert len(credential_reads) == reads + 20  # throttled: that guess cost no read

    assert _stats(controller_app, device_token, ATTACKER).status_code == 200  # a known good token behind it
    assert _stats(controller_app, _wrong(), NEIGHBOUR).status_code == 401  # another address still gets its answer
    assert _stats(controller_app, device_token, NEIGHBOUR).status_code == 200
    assert len(credential_reads) == reads + 21  # the neighbour's guess, checked


def test_good_tokens_do_not_use_up_an_addresses_wrong_tokens(settings, controller_app, device_token):
    settings.controller.bad_token_per_min = 2
    assert [_stats(controller_app, device_token, ATTACKER).status_code for _ in range(5)] == [200] * 5
    assert [_stats(controller_app, _wrong(), ATTACKER).status_code for _ in range(3)] == [401, 401, 429]


def _login(app, token: str, address: str):
    return app.test_client().post(
        "/login", data={"token": token, "next": "/fleet"}, environ_base={"REMOTE_ADDR": address}
    )


def test_the_login_form_counts_wrong_tokens_per_address_like_the_api(
    settings, controller_app, operator_token, device_token, credential_reads
):
    reads = len(credential_reads)
    assert [_login(controller_app, _wrong(), ATTACKER).status_code for _ in range(10)] == [401] * 10
    assert [_stats(controller_app, _wrong(), ATTACKER).status_code for _ in range(10)] == [401] * 10  # one count
    assert len(credential_reads) == reads + 20

    refused = _login(controller_app, _wrong(), ATTACKER)
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert refused.mimetype == "text/html" and "too many wrong tokens" in refused.get_data(as_text=True)
    assert _login(controller_app, operator_token, ATTACKER).status_code == 429  # unchecked: it is never read
    assert "Set-Cookie" not in _login(controller_app, operator_token, ATTACKER).headers
    assert _stats(controller_app, _wrong(), ATTACKER).status_code == 429
    assert len(credential_reads) == reads + 20  # once throttled, the form reads no credential

    assert _login(controller_app, _wrong(), NEIGHBOUR).status_code == 401
    assert _login(controller_app, operator_token, NEIGHBOUR).headers["Location"].endswith("/fleet")
