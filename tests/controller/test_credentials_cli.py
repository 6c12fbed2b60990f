"""`edgecloud devices|operators add|list|revoke` against moto: tokens printed once, stored as hashes."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.credentials import Principal, token_hash


@pytest.fixture
def run(settings, registry, monkeypatch):
    monkeypatch.setenv("EDGECLOUD_TABLES__CREDENTIALS", settings.tables.credentials)

    def invoke(*args, ok=True):
        result = CliRunner().invoke(cli, list(args))
        assert (result.exit_code == 0) == ok, result.output
        return result.output

    return invoke


@pytest.mark.parametrize(
    "group,kind,name,field", [("devices", "device", "pi-07", "device_id"), ("operators", "operator", "alice", "name")]
)
def test_add_list_revoke(run, registry, group, kind, name, field):
    added = json.loads(run(group, "add", name, "--json"))
    assert set(added) == {field, "token"} and added[field] == name
    assert registry.verify(added["token"]) == Principal(kind, name)
    stored = repr(registry.aws.dynamodb.scan(TableName=registry.table)["Items"])
    assert added["token"] not in stored and token_hash(added["token"]) in stored

    assert "exists already" in run(group, "add", name, ok=False)
    [row] = json.loads(run(group, "list", "--json"))
    assert row[field] == name and row["created_at"] and "token" not in row
    assert name in run(group, "list") and added["token"] not in run(group, "list")

    assert f"revoked {kind} {name}" in run(group, "revoke", name)
    assert json.loads(run(group, "list", "--json")) == []
    assert "no " + kind in run(group, "revoke", name, ok=False)
    plain = run(group, "add", name)  # a new token after a revoke, printed with a warning that it is shown once
    assert plain.startswith(f"{kind} {name}: token eco_" if kind == "operator" else f"{kind} {name}: token ecd_")


def test_bad_names_are_refused(run):
    assert "must match" in run("devices", "add", "../pi", ok=False)
    assert "must match" in run("operators", "add", "Al ice", ok=False)
