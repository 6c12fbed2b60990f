"""Both clip ledgers satisfy one written interface (controller/clip_ledger.py), not a docstring."""

from __future__ import annotations

import inspect

import pytest

from edgecloud.controller.clip_ledger import ClipLedger
from edgecloud.controller.ledger import Ledger
from edgecloud.controller.ledger_dynamo import DynamoLedger


def _protocol_members(protocol: type = ClipLedger) -> dict[str, object]:
    return {
        name: value
        for name, value in vars(protocol).items()
        if not name.startswith("_") and (callable(value) or isinstance(value, property))
    }


def _mismatches(cls: type, protocol: type = ClipLedger) -> list[str]:
    """What ``cls`` lacks of the protocol, or has with another signature (names, kinds, defaults)."""
    wrong = []
    for name, wanted in _protocol_members(protocol).items():
        got = inspect.getattr_static(cls, name, None)
        if got is None:
            wrong.append(f"{name}: missing")
        elif isinstance(wanted, property) != isinstance(got, property):
            wrong.append(f"{name}: a property in one only")
        elif not isinstance(wanted, property):
            w, g = inspect.signature(wanted), inspect.signature(got)
            if [(p.name, p.kind, p.default) for p in w.parameters.values()] != [
                (p.name, p.kind, p.default) for p in g.parameters.values()
            ]:
                wrong.append(f"{name}: {g} is not {w}")
    return wrong


def test_the_protocol_names_what_callers_use():
    assert {"add", "mark_finished", "get", "search", "wait_final", "waiting", "reopen", "close"} <= set(
        _protocol_members()
    )


@pytest.mark.parametrize("cls", [Ledger, DynamoLedger])
def test_each_ledger_has_every_method_of_the_protocol_with_its_signature(cls):
    assert _mismatches(cls) == []


def test_the_check_sees_a_missing_method_and_a_changed_signature():
    class Partial(Ledger):
        def search(self, *, device: str = "", limit: int = 10):  # another default, parameters missing
            return []

    assert [m.split(":")[0] for m in _mismatches(Partial)] == ["search"]

    class Lacking:
        def add(self, clip_id, device_id, status, submitted_at):
            return True

    found = _mismatches(Lacking)
    assert "get: missing" in found and any(m.startswith("add:") for m in found)


def test_an_open_sqlite_ledger_is_a_clip_ledger_and_an_object_without_the_methods_is_not(tmp_path):
    ledger = Ledger.in_dir(tmp_path)
    try:
        assert isinstance(ledger, ClipLedger)
    finally:
        ledger.close()
    assert not isinstance(object(), ClipLedger)


def test_an_open_dynamodb_ledger_is_a_clip_ledger(settings):
    from moto import mock_aws

    from edgecloud.aws import Aws
    from edgecloud.clip_table import ensure_table

    with mock_aws():
        ensure_table(Aws(settings.aws), settings.tables.clips)
        ledger = DynamoLedger(Aws(settings.aws), settings.tables.clips)
        try:
            assert isinstance(ledger, ClipLedger)
        finally:
            ledger.close()
