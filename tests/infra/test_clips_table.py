"""The stack's clips table (the controllers' shared ledger) matches what the code queries,
and the stack's controller is configured to use it."""

from __future__ import annotations

from edgecloud.clip_table import INDEXES, KEY
from edgecloud.config import from_dict
from edgecloud.infra.params import settings_from_outputs

from .test_template import _deploy, _user_data_config


def _indexes(table: dict) -> dict[str, tuple[str, str]]:
    return {i["IndexName"]: tuple(k["AttributeName"] for k in i["KeySchema"]) for i in table["GlobalSecondaryIndexes"]}


def test_the_template_declares_the_indexes_the_ledger_queries(template):
    props = template["Resources"]["ClipsTable"]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": KEY, "KeyType": "HASH"}]
    assert _indexes(props) == INDEXES
    assert {i["Projection"]["ProjectionType"] for i in props["GlobalSecondaryIndexes"]} == {"ALL"}
    declared = {a["AttributeName"] for a in props["AttributeDefinitions"]}
    assert declared == {KEY, *(a for pair in INDEXES.values() for a in pair)}


def test_the_stack_makes_the_clips_table_and_its_controller_shares_it(moto_account, settings):
    aws, ami = moto_account
    stack, _ = _deploy(aws, ami, settings, "ec-clips", CreateController="true")
    out = stack.outputs()
    table = aws.dynamodb.describe_table(TableName=out["ClipsTable"])["Table"]
    assert table["KeySchema"] == [{"AttributeName": KEY, "KeyType": "HASH"}] and _indexes(table) == INDEXES
    controller = from_dict(_user_data_config(aws, "ec-clips-controller"))
    assert (controller.tables.clips, controller.controller.ledger) == (out["ClipsTable"], "dynamodb")
    local = settings_from_outputs(settings, out, "ec-clips")
    assert (local.tables.clips, local.controller.ledger) == (out["ClipsTable"], "dynamodb")


def test_ensure_resources_makes_the_clips_table(mocked_aws, settings):
    aws, _ = mocked_aws
    table = aws.dynamodb.describe_table(TableName=settings.tables.clips)["Table"]
    assert _indexes(table) == INDEXES


def test_the_template_declares_the_events_table_the_events_store_queries(template):
    from edgecloud.event_table import INDEXES as EVENT_INDEXES
    from edgecloud.event_table import KEY as EVENT_KEY

    props = template["Resources"]["EventsTable"]["Properties"]
    assert props["KeySchema"] == [{"AttributeName": EVENT_KEY, "KeyType": "HASH"}]
    assert _indexes(props) == EVENT_INDEXES
    declared = {a["AttributeName"] for a in props["AttributeDefinitions"]}
    assert declared == {EVENT_KEY, *(a for pair in EVENT_INDEXES.values() for a in pair)}
    statements = {
        s["Sid"]: s
        for s in template["Resources"]["ControllerRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    }
    assert statements["KeepTheEvents"]["Resource"] == {"Fn::GetAtt": ["EventsTable", "Arn"]}
    assert "dynamodb:Query" in str(statements["QueryTheEvents"]["Action"])


def test_the_stacks_controller_keeps_events_in_the_stacks_table(moto_account, settings):
    aws, ami = moto_account
    stack, _ = _deploy(aws, ami, settings, "ec-events", CreateController="true")
    out = stack.outputs()
    assert from_dict(_user_data_config(aws, "ec-events-controller")).tables.events == out["EventsTable"]
    assert settings_from_outputs(settings, out, "ec-events").tables.events == out["EventsTable"]
