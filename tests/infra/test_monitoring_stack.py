"""The stack's monitoring and scaling options on moto: the workers' and leases' tables, the alarms'
topic and the dashboard, the target-tracking policy and the warm pool; and, where moto's
CloudFormation skips a type (CloudWatch alarms, scaling policies, warm pools), the template's
properties sent through the same API calls CloudFormation would make, so moto validates them."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edgecloud.config import from_dict
from edgecloud.infra.deploy import Stack
from edgecloud.infra.params import (
    complete_network,
    settings_from_outputs,
    stack_parameters,
    template_body,
    template_defaults,
)
from edgecloud.infra.policies import load_template

ALARMS = ("DeadLettersAlarm", "OldestJobAlarm", "BacklogWithoutWorkerAlarm")


def _deploy(aws, ami, settings, name, **extra) -> dict[str, str]:
    stack = Stack(aws, name, poll_seconds=0.05)
    params = complete_network(aws, stack_parameters(settings, name) | {"WorkerAmiId": ami} | extra)
    assert stack.deploy(template_body(), params, defaults=template_defaults()) == "created"
    return stack.outputs()


def _rows(metrics: list[list]) -> list[list]:
    """A dashboard widget's metric rows with CloudWatch's shorthand ("." repeats the row above's
    field, "..." all fields before the rest) written out."""
    rows: list[list] = []
    for row in metrics:
        row = [r for r in row if not isinstance(r, dict)]
        if row and row[0] == "...":
            row = rows[-1][: len(rows[-1]) - len(row) + 1] + row[1:]
        rows.append([rows[-1][i] if v == "." else v for i, v in enumerate(row)])
    return rows


def _resolve(value: Any, refs: dict[str, str]) -> Any:
    """The few intrinsics the alarms and policies use (Ref, GetAtt ...QueueName, Sub of names)."""
    if isinstance(value, list):
        return [_resolve(v, refs) for v in value]
    if not isinstance(value, dict):
        return value
    if "Ref" in value:
        return refs[value["Ref"]]
    if "Fn::GetAtt" in value:
        return refs[".".join(value["Fn::GetAtt"])]
    if "Fn::Sub" in value:
        text = value["Fn::Sub"]
        for key, known in refs.items():
            text = text.replace("${" + key + "}", str(known))
        return text
    return {k: _resolve(v, refs) for k, v in value.items()}


@pytest.fixture
def target_tracking_stack(moto_account, settings):
    aws, ami = moto_account
    settings.fleet.backend = "asg"
    settings.fleet.asg_name = "ec-mon-workers"
    settings.fleet.scaling = "target-tracking"
    settings.autoscaler.target_latency_s = 90
    settings.autoscaler.process_time_s = 3
    out = _deploy(aws, ami, settings, "ec-mon", WarmPoolSize="2")
    return aws, settings, out


def test_stack_makes_the_tables_topic_and_dashboard(target_tracking_stack):
    aws, settings, out = target_tracking_stack
    assert (out["WorkersTable"], out["LeasesTable"]) == ("ec-mon-workers", "ec-mon-leases")
    for table, key in ((out["WorkersTable"], "worker_id"), (out["LeasesTable"], "lease")):
        described = aws.dynamodb.describe_table(TableName=table)["Table"]
        assert described["KeySchema"] == [{"AttributeName": key, "KeyType": "HASH"}]
    # moto's CloudFormation drops TimeToLiveSpecification: read it from the template (workers gone a day expire).
    spec = load_template()["Resources"]["WorkersTable"]["Properties"]["TimeToLiveSpecification"]
    assert spec == {"AttributeName": "expires_at", "Enabled": True}
    assert out["AlarmsTopic"].endswith(":ec-mon-alarms")
    assert out["AlarmsTopic"] in [t["TopicArn"] for t in aws.sns.list_topics()["Topics"]]

    (dashboard,) = aws.cloudwatch.list_dashboards()["DashboardEntries"]
    assert dashboard["DashboardName"] == out["Dashboard"] == "ec-mon-fleet"
    body = json.loads(aws.cloudwatch.get_dashboard(DashboardName="ec-mon-fleet")["DashboardBody"])
    metrics = [row for w in body["widgets"] if w["type"] == "metric" for row in _rows(w["properties"]["metrics"])]
    ours = {m[1] for m in metrics if m[0] == "edgecloud"}
    assert ours == {"BacklogPerWorker", "Workers", "OldestJobAge", "LatencyP95", "ClipsSubmitted"}
    assert ["edgecloud", "BacklogPerWorker", "Fleet", settings.fleet.name] in metrics
    assert any(
        m[:4] == ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", out["DeadLetterQueue"]] for m in metrics
    )
    (alarm_widget,) = [w for w in body["widgets"] if w["type"] == "alarm"]
    assert len(alarm_widget["properties"]["alarms"]) == 3

    # The controller's and the workers' configs name the stack's tables; the controller only publishes.
    deployed = settings_from_outputs(settings, out, "ec-mon")
    assert (deployed.tables.workers, deployed.tables.leases) == (out["WorkersTable"], out["LeasesTable"])
    assert deployed.fleet.backend == "asg" and deployed.fleet.scaling == "target-tracking"


def test_user_data_passes_the_tables_and_the_scaling_mode(template):
    lt = template["Resources"]
    worker = lt["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"][0]
    controller = lt["ControllerLaunchTemplate"]["Properties"]["LaunchTemplateData"]["UserData"]["Fn::Base64"]["Fn::Sub"]
    assert "workers: ${WorkersTable}" in worker and "leases" not in worker
    text, values = controller
    assert "workers: ${WorkersTable}" in text and "leases: ${LeasesTable}" in text
    assert "scaling: ${Scaling}" in text and "target_latency_s: ${TargetLatency}" in text
    assert values["Scaling"] == {"Fn::If": ["WithTargetTracking", "target-tracking", "loop"]}
    # A config written with those names is valid.
    config = from_dict(
        {
            "tables": {"workers": "ec-workers", "leases": "ec-leases"},
            "fleet": {"backend": "asg", "scaling": "target-tracking"},
        }
    )
    assert config.tables.leases == "ec-leases"


def test_alarms_accepted_by_cloudwatch_and_notify_the_topic(target_tracking_stack):
    # moto's CloudFormation skips AWS::CloudWatch::Alarm: put each as CloudFormation would.
    aws, settings, out = target_tracking_stack
    resources = load_template()["Resources"]
    refs = {
        "AlarmsTopic": out["AlarmsTopic"],
        "FleetName": settings.fleet.name,
        "NamePrefix": "ec-mon",
        "TargetLatency": 90,
        "DeadLetterQueue.QueueName": out["DeadLetterQueue"],
    }
    for logical_id in ALARMS:
        aws.cloudwatch.put_metric_alarm(**_resolve(resources[logical_id]["Properties"], refs))
    alarms = {a["AlarmName"]: a for a in aws.cloudwatch.describe_alarms()["MetricAlarms"]}
    assert set(alarms) == {"ec-mon-dead-letters", "ec-mon-oldest-job", "ec-mon-backlog-without-worker"}
    assert all(a["AlarmActions"] == [out["AlarmsTopic"]] for a in alarms.values())
    dead = alarms["ec-mon-dead-letters"]
    assert (dead["Namespace"], dead["Threshold"], dead["ComparisonOperator"]) == (
        "AWS/SQS",
        0.0,
        "GreaterThanThreshold",
    )
    assert dead["Dimensions"] == [{"Name": "QueueName", "Value": out["DeadLetterQueue"]}]
    oldest = alarms["ec-mon-oldest-job"]
    assert (oldest["Namespace"], oldest["MetricName"], oldest["Threshold"]) == ("edgecloud", "OldestJobAge", 90.0)
    stuck = alarms["ec-mon-backlog-without-worker"]
    (expression,) = [m for m in stuck["Metrics"] if m.get("ReturnData")]
    assert expression["Expression"] == "IF(backlog > 0 AND workers == 0, 1, 0)"
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in stuck["Metrics"] if "MetricStat" in m} == {
        "Backlog",
        "FleetSize",
    }


def test_target_tracking_policy_and_warm_pool(target_tracking_stack):
    # moto's CloudFormation skips both types: make them with the template's properties, as CloudFormation would.
    aws, settings, out = target_tracking_stack
    group = out["AutoScalingGroup"]
    resources = load_template()["Resources"]
    assert resources["BacklogTargetTracking"]["Condition"] == "WithTargetTracking"
    assert resources["WorkerWarmPool"]["Condition"] == "WithWarmPool"
    params = stack_parameters(settings, "ec-mon")
    assert (params["FleetScaling"], params["BacklogPerWorkerTarget"]) == ("target-tracking", "30")  # 90 s / 3 s
    refs = {"WorkerGroup": group, "FleetName": settings.fleet.name, "BacklogPerWorkerTarget": 30, "WarmPoolSize": 2}
    policy = _resolve(resources["BacklogTargetTracking"]["Properties"], refs)
    aws.autoscaling.put_scaling_policy(PolicyName="backlog", **policy)
    (made,) = aws.autoscaling.describe_policies(AutoScalingGroupName=group)["ScalingPolicies"]
    tracking = made["TargetTrackingConfiguration"]
    assert made["PolicyType"] == "TargetTrackingScaling" and tracking["TargetValue"] == 30.0
    assert tracking["CustomizedMetricSpecification"] == {
        "MetricName": "BacklogPerWorker",
        "Namespace": "edgecloud",
        "Statistic": "Average",
        "Dimensions": [{"Name": "Fleet", "Value": settings.fleet.name}],
    }
    aws.autoscaling.put_warm_pool(**_resolve(resources["WorkerWarmPool"]["Properties"], refs))
    pool = aws.autoscaling.describe_warm_pool(AutoScalingGroupName=group)["WarmPoolConfiguration"]
    assert (pool["MinSize"], pool["MaxGroupPreparedCapacity"], pool["PoolState"]) == (2, 2, "Stopped")


def test_loop_mode_makes_no_policy_and_no_pool(moto_account, settings):
    aws, ami = moto_account
    out = _deploy(aws, ami, settings, "ec-loop", CreateAutoScalingGroup="true")
    assert out["FleetScaling"] == "loop"
    assert settings_from_outputs(settings, out, "ec-loop").fleet.scaling == "loop"
