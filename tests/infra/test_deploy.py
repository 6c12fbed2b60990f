"""Stack life cycle paths moto does not produce (CloudFormation's own answers, via botocore's Stubber)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from botocore.stub import ANY, Stubber

from edgecloud.aws import Aws
from edgecloud.infra.deploy import Stack
from edgecloud.infra.params import InfraError

STACK_ID = "arn:aws:cloudformation:us-east-1:123456789012:stack/ec/0f0e"
T0 = datetime(2026, 11, 24, 12, 0, tzinfo=timezone.utc)


def _stack(status: str) -> dict:
    return {
        "Stacks": [
            {"StackName": "ec", "StackId": STACK_ID, "StackStatus": status, "CreationTime": T0, "Parameters": []}
        ]
    }


def _event(n: int, logical_id: str, status: str, reason: str = "", rtype: str = "AWS::S3::Bucket") -> dict:
    event = {
        "StackId": STACK_ID,
        "EventId": f"e{n}",
        "StackName": "ec",
        "LogicalResourceId": logical_id,
        "ResourceType": rtype,
        "Timestamp": T0 + timedelta(seconds=n),
        "ResourceStatus": status,
    }
    if reason:
        event["ResourceStatusReason"] = reason
    return event


@pytest.fixture
def stubbed(settings):
    aws = Aws(settings.aws)
    with Stubber(aws.cloudformation) as stub:
        yield Stack(aws, "ec", poll_seconds=0.01), stub
        stub.assert_no_pending_responses()


def test_no_updates_to_perform_is_success(stubbed):
    stack, stub = stubbed
    stub.add_response("describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": "ec"})
    stub.add_response(
        "describe_stack_events", {"StackEvents": [_event(1, "ec", "CREATE_COMPLETE")]}, {"StackName": STACK_ID}
    )
    stub.add_client_error(
        "update_stack",
        service_error_code="ValidationError",
        service_message="No updates are to be performed.",
        http_status_code=400,
    )
    assert stack.deploy("{}", {"NamePrefix": "ec"}) == "unchanged"


def test_failed_create_names_each_failed_resource_and_why(stubbed):
    stack, stub = stubbed
    stub.add_client_error(
        "describe_stacks",
        service_error_code="ValidationError",
        service_message="Stack with id ec does not exist",
        http_status_code=400,
    )
    stub.add_response(
        "create_stack",
        {"StackId": STACK_ID},
        {
            "StackName": "ec",
            "TemplateBody": "{}",
            "Capabilities": ["CAPABILITY_IAM"],
            "Parameters": [{"ParameterKey": "NamePrefix", "ParameterValue": "ec"}],
            "Tags": ANY,
        },
    )
    stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"), {"StackName": STACK_ID})
    stub.add_response(
        "describe_stack_events",
        {
            "StackEvents": [
                _event(4, "ec", "ROLLBACK_COMPLETE", rtype="AWS::CloudFormation::Stack"),
                _event(3, "ClipsBucket", "DELETE_COMPLETE"),
                _event(2, "ClipsBucket", "CREATE_FAILED", "ec-clips-123456789012-us-east-1 already exists"),
                _event(1, "ec", "CREATE_IN_PROGRESS", "User Initiated", rtype="AWS::CloudFormation::Stack"),
            ]
        },
        {"StackName": STACK_ID},
    )
    seen = []
    with pytest.raises(InfraError) as failure:
        stack.deploy("{}", {"NamePrefix": "ec"}, on_event=seen.append)
    message = str(failure.value)
    assert "ended ROLLBACK_COMPLETE" in message
    assert "ClipsBucket (AWS::S3::Bucket) CREATE_FAILED: ec-clips-123456789012-us-east-1 already exists" in message
    # Progress saw every event, oldest first.
    assert [e.event_id for e in seen] == ["e1", "e2", "e3", "e4"]


def test_a_rolled_back_create_is_deleted_before_trying_again(stubbed):
    stack, stub = stubbed
    stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"), {"StackName": "ec"})
    # delete(): look, delete, wait until gone.
    stub.add_response("describe_stacks", _stack("ROLLBACK_COMPLETE"), {"StackName": "ec"})
    stub.add_response(
        "describe_stack_events", {"StackEvents": [_event(1, "ec", "ROLLBACK_COMPLETE")]}, {"StackName": STACK_ID}
    )
    stub.add_response("delete_stack", {}, {"StackName": STACK_ID})
    stub.add_response("describe_stacks", _stack("DELETE_COMPLETE"), {"StackName": STACK_ID})
    stub.add_response(
        "describe_stack_events",
        {"StackEvents": [_event(2, "ec", "DELETE_COMPLETE"), _event(1, "ec", "ROLLBACK_COMPLETE")]},
        {"StackName": STACK_ID},
    )
    # then a fresh create.
    stub.add_response("create_stack", {"StackId": STACK_ID}, None)
    stub.add_response("describe_stacks", _stack("CREATE_COMPLETE"), {"StackName": STACK_ID})
    stub.add_response(
        "describe_stack_events", {"StackEvents": [_event(3, "ec", "CREATE_COMPLETE")]}, {"StackName": STACK_ID}
    )
    assert stack.deploy("{}", {}) == "created"
