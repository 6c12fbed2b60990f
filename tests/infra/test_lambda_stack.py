"""The stack with the Lambda function (fleet.backend lambda), deployed by `infra up` on moto."""

from __future__ import annotations

import io
import json
import zipfile

from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.config import load
from edgecloud.infra.policies import load_template


def _zip(path):
    # A handler-shaped zip: the stack's mechanics do not depend on its size (the real one is
    # built and run in tests/lambda).
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("edgecloud/worker/lambda_handler.py", "def handle(event, context):\n    return {}\n")
    path.write_bytes(buffer.getvalue())
    return path


def test_infra_up_deploys_the_function_and_its_event_sources(moto_account, tmp_path, monkeypatch):
    aws, ami = moto_account
    monkeypatch.setenv("EDGECLOUD_FLEET__BACKEND", "lambda")
    monkeypatch.setenv("EDGECLOUD_AUTOSCALER__MAX_WORKERS", "6")
    config = tmp_path / "deployed.yaml"
    result = CliRunner().invoke(
        cli,
        [
            "infra",
            "up",
            "--stack",
            "ec-fn",
            "--param",
            f"WorkerAmiId={ami}",
            "--function-zip",
            str(_zip(tmp_path / "fn.zip")),
            "--config-out",
            str(config),
            "--poll",
            "0.1",
        ],
    )
    assert result.exit_code == 0, result.output

    settings = load(config)
    assert settings.fleet.backend == "lambda" and settings.function.name == "ec-fn-worker"
    assert settings.storage.frames_bucket == "ec-fn-frames-123456789012-us-east-1"
    assert settings.queues.frame_answers == "ec-fn-answers"
    function = aws.client("lambda").get_function(FunctionName="ec-fn-worker")["Configuration"]
    assert (function["Handler"], function["Runtime"]) == ("edgecloud.worker.lambda_handler.handle", "python3.12")
    env = function["Environment"]["Variables"]
    assert (
        env["EDGECLOUD_AWS__REGION"] == "us-east-1"
        and env["EDGECLOUD_QUEUES__JOBS"] == "ec-fn-jobs"
        and env["EDGECLOUD_STORAGE__RESULTS_BUCKET"] == settings.storage.results_bucket
    )
    assert function["Role"].split("/")[-1] != ""
    (mapping,) = aws.client("lambda").list_event_source_mappings(FunctionName="ec-fn-worker")["EventSourceMappings"]
    jobs_arn = aws.sqs.get_queue_attributes(
        QueueUrl=aws.sqs.get_queue_url(QueueName="ec-fn-jobs")["QueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    assert mapping["EventSourceArn"] == jobs_arn
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["ScalingConfig"] == {"MaximumConcurrency": 6}
    aws.s3.head_bucket(Bucket=settings.storage.frames_bucket)
    # moto's CloudFormation creates the bucket but drops its NotificationConfiguration: read it from the template.
    (target,) = load_template()["Resources"]["FramesBucket"]["Properties"]["NotificationConfiguration"][
        "LambdaConfigurations"
    ]
    assert target["Function"] == {"Fn::GetAtt": ["WorkerFunction", "Arn"]}
    assert target["Event"] == "s3:ObjectCreated:*"
    assert target["Filter"]["S3Key"]["Rules"] == [
        {"Name": "prefix", "Value": "frames/"},
        {"Name": "suffix", "Value": ".jpg"},
    ]
    policy = json.loads(aws.client("lambda").get_policy(FunctionName="ec-fn-worker")["Policy"])
    (grant,) = policy["Statement"]
    assert grant["Principal"] == {"Service": "s3.amazonaws.com"}
    assert grant["Condition"]["ArnLike"]["AWS:SourceArn"].endswith(settings.storage.frames_bucket)


def test_infra_up_refuses_a_function_without_code(moto_account, monkeypatch):
    aws, ami = moto_account
    monkeypatch.setenv("EDGECLOUD_FLEET__BACKEND", "lambda")
    result = CliRunner().invoke(
        cli, ["infra", "up", "--stack", "ec-nocode", "--param", f"WorkerAmiId={ami}", "--poll", "0.1"]
    )
    assert result.exit_code != 0 and "--function-zip" in result.output
    assert aws.cloudformation.list_stacks()["StackSummaries"] == []
