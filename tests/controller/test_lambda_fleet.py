"""fleet.backend lambda: the controller launches nothing and shows the function's concurrency."""

from __future__ import annotations

from edgecloud.controller.fleet import create_fleet
from edgecloud.controller.service import ControllerService


def _publish(aws, name: str, value: float) -> None:
    aws.client("cloudwatch").put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "ConcurrentExecutions",
                "Value": value,
                "Dimensions": [{"Name": "FunctionName", "Value": name}],
            }
        ],
    )


def test_stats_show_the_functions_concurrency(settings, client, mocked_aws):
    aws, _ = mocked_aws
    settings.fleet.backend = "lambda"
    settings.autoscaler.max_workers = 7
    _publish(aws, settings.function.name, 1)
    _publish(aws, settings.function.name, 3)
    _publish(aws, "another-function", 9)

    body = client.get("/v1/stats").get_json()  # as device pi-01: a Pi reads the stats to place clips

    assert body["function"] == {"name": settings.function.name, "concurrent_executions": 3, "maximum_concurrency": 7}
    assert body["workers"] == {"pending": 0, "running": 3}


def test_the_event_source_mappings_cap_wins(settings, mocked_aws):
    aws, queues = mocked_aws
    settings.fleet.backend = "lambda"
    role = aws.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    aws.client("lambda").create_function(
        FunctionName=settings.function.name,
        Runtime="python3.12",
        Role=role,
        Handler="edgecloud.worker.lambda_handler.handle",
        Code={"ZipFile": b"PK\x05\x06" + b"\0" * 18},
    )
    arn = aws.sqs.get_queue_attributes(QueueUrl=queues.jobs, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    aws.client("lambda").create_event_source_mapping(
        EventSourceArn=arn, FunctionName=settings.function.name, ScalingConfig={"MaximumConcurrency": 4}
    )

    fleet = create_fleet(settings, aws)

    assert fleet.describe()["maximum_concurrency"] == 4
    assert fleet.launch(5) == [] and fleet.count() == 0


def test_the_controller_runs_no_autoscaler_for_a_function(settings, mocked_aws):
    aws, _ = mocked_aws
    settings.fleet.backend = "lambda"
    service = ControllerService(settings, aws=aws)
    try:
        assert service.scaling is None
    finally:
        service.close()
