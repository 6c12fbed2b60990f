"""The API as a contract: GET /v1/openapi.json describes every route, and schemathesis
checks the real app (on moto) against it: no 500, every answer as documented."""

from __future__ import annotations

import re

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import positive_data_acceptance

from edgecloud.controller.openapi import spec


def test_the_spec_is_served_to_token_holders_and_names_every_route(controller_app, client):
    assert controller_app.test_client().get("/v1/openapi.json").status_code == 401
    served = client.get("/v1/openapi.json").get_json()
    assert served == spec() and served["openapi"].startswith("3.")
    # Every route of the API (the dashboard's HTML pages are not part of it), converters left out.
    routes = {
        re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for rule in controller_app.url_map.iter_rules()
        if rule.endpoint.split(".")[0] in {"api", "openapi"}
    }
    assert routes == set(served["paths"])
    upload = served["paths"]["/v1/clips"]["post"]["responses"]
    assert {"201", "400", "401", "403", "413", "415", "422", "429"} <= set(upload)
    assert "Retry-After" in upload["429"]["headers"] and "WWW-Authenticate" in upload["401"]["headers"]
    assert "device_id" in served["components"]["schemas"]["UploadMetadata"]["properties"]  # from the pydantic model


@pytest.fixture
def auth_header(client) -> dict[str, str]:
    return {"Authorization": client.environ_base["HTTP_AUTHORIZATION"]}  # device pi-01


def test_the_app_keeps_its_contract(controller_app, settings, auth_header):
    settings.controller.max_wait_s = 0.05  # generated ?wait= values must not hold the run
    # Each request takes a token, each wrong one counts against the address: past either, most answers would be 429.
    settings.controller.upload_burst = settings.controller.bad_token_per_min = 10**6
    schema = schemathesis.openapi.from_wsgi("/v1/openapi.json", controller_app, headers=dict(auth_header))
    operations = [result.ok() for result in schema.get_all_operations()]
    # Every route but the document itself, which schemathesis leaves out.
    assert {op.path for op in operations} == set(spec()["paths"]) - {"/v1/openapi.json"}
    for operation in operations:

        @hypothesis.given(case=operation.as_strategy())
        @hypothesis.settings(
            max_examples=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        def keeps_contract(case):
            # Every default check (no 500, status, headers and body as documented...) but one: a schema-valid
            # body may still be refused, for what JSON Schema cannot say (random bytes are no MP4).
            case.call_and_validate(headers=auth_header, excluded_checks=[positive_data_acceptance])

        keeps_contract()
