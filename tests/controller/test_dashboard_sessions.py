"""Dashboard sessions and headers on in-process moto: server-side sessions that logout and
`operators revoke` end at once on every controller, a cookie that is only a random id, the
signing key outside the credentials table, Secure over HTTPS, same-site `next`, security
headers, and links that never come from the Host header."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.controller.app import create_app
from edgecloud.controller.dashboard.auth import make_login_link
from edgecloud.controller.dashboard.key import signing_key
from edgecloud.controller.resources import resources
from edgecloud.credentials import OLD_DASHBOARD_KEY, token_hash
from edgecloud.protocol.ids import new_clip_id

COOKIE = "edgecloud_session"


@pytest.fixture
def operator(registry):
    return registry.add("operator", "alice")


@pytest.fixture
def make_app(settings, mocked_aws):
    """make_app(): one more controller's app on the same AWS (its own registry, cache and session
    interface), made from the settings as they are at the call."""
    aws, queues = mocked_aws
    made = []

    def make():
        made.append(create_app(settings, {"TESTING": True}))
        resources(made[-1]).attach(aws=aws, queues=queues)
        return made[-1]

    yield make
    for app in made:
        resources(app).close()


@pytest.fixture
def second_controller(make_app):
    return make_app()


def _login(client, token, **kw):
    return client.post("/login", data={"token": token, "next": "/fleet"}, **kw)


def _sid(reply) -> str:
    return re.search(rf"{COOKIE}=([^;]+)", reply.headers["Set-Cookie"])[1]


def _with_cookie(app, sid):
    other = app.test_client()
    other.set_cookie(COOKIE, sid)
    return other


def _logout(client):
    csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/fleet").get_data(as_text=True))[1]
    return client.post("/logout", data={"csrf": csrf})


def test_a_cookie_copied_before_logout_is_refused_after_it_on_every_controller(app, second_controller, operator):
    client = app.test_client()
    sid = _sid(_login(client, operator))
    copy, elsewhere = _with_cookie(app, sid), _with_cookie(second_controller, sid)
    assert copy.get("/fleet").status_code == 200 and elsewhere.get("/fleet").status_code == 200
    assert _logout(client).status_code == 302
    assert copy.get("/fleet").status_code == 302
    assert elsewhere.get("/fleet").status_code == 302
    assert elsewhere.get("/fragments/clips").status_code == 401


def test_operators_revoke_ends_a_live_session_at_once(app, second_controller, operator, settings, monkeypatch):
    client = app.test_client()
    sid = _sid(_login(client, operator))
    elsewhere = _with_cookie(second_controller, sid)
    assert client.get("/fleet").status_code == 200 and elsewhere.get("/fleet").status_code == 200  # both cached it
    monkeypatch.setenv("EDGECLOUD_TABLES__CREDENTIALS", settings.tables.credentials)
    result = CliRunner().invoke(cli, ["operators", "revoke", "alice"])
    assert result.exit_code == 0, result.output
    assert client.get("/fleet").status_code == 302  # within token_cache_s (30 s), yet refused now
    assert elsewhere.get("/fleet").status_code == 302


def test_a_new_token_for_the_same_name_does_not_revive_an_old_session(app, operator, registry):
    client = app.test_client()
    _login(client, operator)
    registry.revoke("operator", "alice")
    registry.add("operator", "alice")
    assert client.get("/fleet").status_code == 302


def test_the_cookie_is_a_random_session_id_never_the_token_or_its_hash(app, operator, mocked_aws, settings):
    first, second = _sid(_login(app.test_client(), operator)), _sid(_login(app.test_client(), operator))
    assert first != second and re.fullmatch(r"[A-Za-z0-9_-]{40,}", first)  # 32 random bytes, urlsafe
    digest = token_hash(operator)
    for sid in (first, second):
        assert digest not in sid and operator not in sid and "alice" not in sid
    # What the id stands for lives in the shared table, without the token or its hash either.
    aws, _ = mocked_aws
    stored = aws.dynamodb.scan(TableName=settings.tables.sessions)["Items"]
    assert {i["id"]["S"] for i in stored} == {f"session:{first}", f"session:{second}"}
    assert digest not in repr(stored) and operator not in repr(stored)


def test_a_login_gets_a_fresh_session_id(app, operator, registry):
    client = app.test_client()
    sid = _sid(_login(client, operator))
    relogin = _login(client, registry.add("operator", "carol"))
    assert _sid(relogin) != sid
    assert _with_cookie(app, sid).get("/fleet").status_code == 302  # the session before it is gone


def test_an_expired_session_is_refused_before_dynamodb_deletes_it(app, operator, mocked_aws, settings):
    client = app.test_client()
    sid = _sid(_login(client, operator))
    aws, _ = mocked_aws
    aws.dynamodb.update_item(
        TableName=settings.tables.sessions,
        Key={"id": {"S": f"session:{sid}"}},
        UpdateExpression="SET expiration = :past",
        ExpressionAttributeValues={":past": {"N": "1"}},
    )
    assert client.get("/fleet").status_code == 302


@pytest.mark.parametrize("cookie", ["x" * 300, "../../etc", "a b", "é"])
def test_a_malformed_cookie_is_no_session(app, cookie):
    assert _with_cookie(app, cookie).get("/fleet").status_code == 302


def test_the_signing_key_comes_from_secrets_manager_never_the_credentials_table(app, operator, mocked_aws, settings):
    aws, _ = mocked_aws
    # A table from before: the old key beside the tokens.
    aws.dynamodb.put_item(
        TableName=settings.tables.credentials, Item={**OLD_DASHBOARD_KEY, "secret": {"S": "old" * 20}}
    )
    link = make_login_link(settings, aws, "http://localhost", operator)
    stored = aws.secretsmanager.get_secret_value(SecretId=settings.controller.secret_name)["SecretString"]
    assert len(stored) >= 48 and signing_key(settings, aws) == stored  # made once, then read
    items = aws.dynamodb.scan(TableName=settings.tables.credentials)["Items"]
    assert not [i for i in items if not i["pk"]["S"].startswith(("principal#", "token#"))]  # old key gone
    assert stored not in repr(items)
    client = app.test_client()
    assert client.get(link.removeprefix("http://localhost")).status_code == 302
    assert client.get("/events").status_code == 200


def test_a_configured_secret_key_signs_links_and_nothing_is_stored(app, operator, mocked_aws, settings):
    aws, _ = mocked_aws
    settings.controller.secret_key = "k" * 40
    assert signing_key(settings, aws) == "k" * 40
    assert aws.secretsmanager.list_secrets()["SecretList"] == []


def test_a_used_login_link_is_recorded_in_the_sessions_table_not_the_credentials_table(
    app, operator, mocked_aws, settings
):
    aws, _ = mocked_aws
    link = make_login_link(settings, aws, "http://localhost", operator)
    assert app.test_client().get(link.removeprefix("http://localhost")).status_code == 302
    claims = [
        i
        for i in aws.dynamodb.scan(TableName=settings.tables.sessions)["Items"]
        if i["id"]["S"].startswith("login-link:")
    ]
    assert len(claims) == 1 and int(claims[0]["expiration"]["N"]) > 0
    assert "login-link" not in repr(aws.dynamodb.scan(TableName=settings.tables.credentials)["Items"])


@pytest.mark.parametrize("how", ["tls_cert", "https_url", "https_request", "plain"])
def test_the_cookie_is_secure_whenever_the_dashboard_is_served_over_https(settings, make_app, how, tmp_path):
    if how == "tls_cert":
        settings.controller.tls_cert, settings.controller.tls_key = tmp_path / "c.pem", tmp_path / "k.pem"
    elif how == "https_url":
        settings.controller.url = "https://cams.example"
    app = make_app()
    token = resources(app).registry.add("operator", "alice")
    base = "https://localhost" if how == "https_request" else "http://localhost"
    cookie = _login(app.test_client(), token, base_url=base).headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert ("; Secure" in cookie) == (how != "plain")


@pytest.mark.parametrize(
    "target",
    [
        "/\t/evil.example",
        "//x",
        "/\\x",
        "/\\\\evil.example",
        "\\\\evil.example",
        "/fleet\r\nSet-Cookie: a=b",
        "/\n/evil.example",
        "/\x00",
        "https://evil.example",
        "javascript:alert(1)",
        "/\x7f/evil.example",
        "evil.example",
        "",
    ],
)
def test_next_is_only_ever_a_same_site_path(app, operator, target):
    reply = app.test_client().post("/login", data={"token": operator, "next": target})
    assert reply.status_code == 302 and reply.location == "/events"
    page = app.test_client().get("/login", query_string={"next": target})
    assert page.status_code == 200 and 'name="next" value="/events"' in page.get_data(as_text=True)


def test_next_keeps_a_page_of_the_site(app, operator):
    reply = app.test_client().post("/login", data={"token": operator, "next": "/?device=pi-01&page=2"})
    assert reply.location == "/?device=pi-01&page=2"


def test_dashboard_pages_send_security_headers(app, operator, mocked_aws):
    client = app.test_client()
    login = client.get("/login")
    _login(client, operator)
    for reply in (login, client.get("/fleet"), client.get("/events"), client.get("/fragments/clips")):
        assert reply.headers["X-Frame-Options"] == "DENY"
        assert reply.headers["X-Content-Type-Options"] == "nosniff"
        assert reply.headers["Referrer-Policy"] == "same-origin"
        csp = dict(part.strip().split(" ", 1) for part in reply.headers["Content-Security-Policy"].split(";"))
        assert csp["default-src"] == "'self'" and csp["frame-ancestors"] == "'none'"
        assert "'unsafe-inline'" not in reply.headers["Content-Security-Policy"]
        # Snapshots and video load from S3's presigned links: their origin, and nothing wider.
        s3 = resources(app).store.link(resources(app).store.results_bucket, "x").split("/")[2]
        assert s3 in csp["img-src"] and s3 in csp["media-src"] and "*" not in csp["img-src"]
        assert "Strict-Transport-Security" not in reply.headers  # plain HTTP: no HSTS, no redirect
    assert login.status_code == 200


@pytest.mark.parametrize("url", [None, "https://cams.example"])
def test_a_forged_host_header_never_reaches_status_url(settings, make_app, device_token, vtest_mp4, url):
    settings.controller.url = url
    app = make_app()

    def upload() -> tuple[str, str]:
        clip_id = new_clip_id("pi-01")
        reply = app.test_client().post(
            "/v1/clips",
            headers={"Authorization": f"Bearer {device_token}", "Host": "evil.example"},
            data={
                "clip": (vtest_mp4.open("rb"), "c.mp4", "video/mp4"),
                "metadata": f'{{"clip_id": "{clip_id}", "device_id": "pi-01"}}',
            },
        )
        assert reply.status_code == 201, reply.json
        return clip_id, reply.json["status_url"]

    clip_id, status_url = upload()
    assert status_url == f"{url or 'http://127.0.0.1:0'}/v1/clips/{clip_id}"  # the configured listen address
    resources(app).attach(public_url="http://10.0.0.5:8080")  # what `serve` attaches: the URL it listens on
    clip_id, status_url = upload()
    assert status_url == f"{url or 'http://10.0.0.5:8080'}/v1/clips/{clip_id}"
