"""`edgecloud infra up | outputs | status | down | permissions` against in-process moto."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from edgecloud.cli import cli
from edgecloud.config import load


def infra(*args: str):
    # Wide enough that rich tables print every name on one line.
    return CliRunner().invoke(cli, ["infra", *args], env={"COLUMNS": "240"})


@pytest.fixture
def deployed(moto_account, tmp_path):
    """`infra up` of stack ec-cli; yields (aws, config path written, outputs)."""
    aws, ami = moto_account
    config = tmp_path / "deployed.yaml"
    result = infra(
        "up", "--stack", "ec-cli", "--param", f"WorkerAmiId={ami}", "--config-out", str(config), "--poll", "0.1"
    )
    assert result.exit_code == 0, result.output
    outputs = json.loads(infra("outputs", "--stack", "ec-cli", "--json").output)
    return aws, config, outputs


def test_up_writes_a_config_that_uses_the_stack(deployed):
    aws, config, outputs = deployed
    settings = load(config)
    assert settings.storage.clips_bucket == outputs["ClipsBucket"] == "ec-cli-clips-123456789012-us-east-1"
    assert settings.storage.results_bucket == outputs["ResultsBucket"]
    assert (settings.queues.jobs, settings.queues.completions, settings.queues.dead_letter) == (
        "ec-cli-jobs",
        "ec-cli-completions",
        "ec-cli-jobs-dlq",
    )
    assert settings.fleet.launch_template == "ec-cli-worker"
    assert settings.fleet.instance_profile == outputs["WorkerInstanceProfile"]
    assert settings.fleet.security_group_ids == [outputs["WorkerSecurityGroupId"]]
    assert settings.fleet.subnet_ids == outputs["SubnetIds"].split(",")
    assert settings.fleet.backend == "ec2" and settings.fleet.asg_name is None
    assert settings.infra.stack == "ec-cli"
    # The names are real: the controller's calls work with them.
    url = aws.sqs.get_queue_url(QueueName=settings.queues.jobs)["QueueUrl"]
    aws.sqs.send_message(QueueUrl=url, MessageBody="{}")
    aws.s3.put_object(Bucket=settings.storage.results_bucket, Key="results/x.json", Body=b"{}")


def test_status_lists_the_stack_and_its_resources(deployed):
    result = infra("status", "--stack", "ec-cli")
    assert result.exit_code == 0, result.output
    assert "CREATE_COMPLETE" in result.output
    for resource in ("ClipsBucket", "JobsQueue", "WorkerRole", "WorkerLaunchTemplate"):
        assert resource in result.output


def test_down_refuses_non_empty_buckets_then_force_deletes_every_version(deployed):
    aws, _, outputs = deployed
    clips = outputs["ClipsBucket"]
    aws.s3.put_bucket_versioning(Bucket=clips, VersioningConfiguration={"Status": "Enabled"})
    aws.s3.put_object(Bucket=clips, Key="clips/a.mp4", Body=b"one")
    aws.s3.put_object(Bucket=clips, Key="clips/a.mp4", Body=b"two")
    aws.s3.delete_object(Bucket=clips, Key="clips/a.mp4")  # leaves a delete marker and two versions

    refused = infra("down", "--stack", "ec-cli", "--poll", "0.1")
    assert refused.exit_code == 1
    assert clips in refused.output and "3 objects" in refused.output and "--force" in refused.output
    assert json.loads(infra("outputs", "--stack", "ec-cli", "--json").output) == outputs  # still there

    forced = infra("down", "--stack", "ec-cli", "--force", "--poll", "0.1")
    assert forced.exit_code == 0, forced.output
    assert "3 object versions deleted" in forced.output
    assert infra("status", "--stack", "ec-cli").exit_code == 1
    assert not [b for b in aws.s3.list_buckets()["Buckets"] if b["Name"].startswith("ec-cli-")]
    assert not aws.sqs.list_queues(QueueNamePrefix="ec-cli-").get("QueueUrls")
    # Nothing left to delete is not an error.
    assert infra("down", "--stack", "ec-cli").exit_code == 0


def test_down_refuses_while_workers_run_then_force_terminates_them(deployed):
    aws, config, outputs = deployed
    settings = load(config)
    tags = [
        {
            "ResourceType": "instance",
            "Tags": [
                {"Key": "edgecloud:fleet", "Value": settings.fleet.name},
                {"Key": "edgecloud:role", "Value": "worker"},
            ],
        }
    ]
    reply = aws.ec2.run_instances(
        LaunchTemplate={"LaunchTemplateName": settings.fleet.launch_template},
        MinCount=2,
        MaxCount=2,
        TagSpecifications=tags,
    )
    ids = sorted(i["InstanceId"] for i in reply["Instances"])

    refused = infra("down", "--stack", "ec-cli", "--poll", "0.1")
    assert refused.exit_code == 1 and "2 worker(s) still up" in refused.output and ids[0] in refused.output

    forced = infra("down", "--stack", "ec-cli", "--force", "--poll", "0.1")
    assert forced.exit_code == 0, forced.output
    states = {
        i["InstanceId"]: i["State"]["Name"]
        for r in aws.ec2.describe_instances(InstanceIds=ids)["Reservations"]
        for i in r["Instances"]
    }
    assert set(states.values()) == {"terminated"}


def test_up_without_an_ami_says_how_to_get_one(moto_account):
    result = infra("up", "--stack", "ec-noami")
    assert result.exit_code == 1
    assert "WorkerAmiId" in result.output and "Build the worker AMI" in result.output


def test_up_rejects_unknown_parameters_and_bad_stack_names(moto_account):
    typo = infra("up", "--stack", "ec-typo", "--param", "WorkerAMI=ami-1")
    assert typo.exit_code == 1 and "WorkerAMI: not a template parameter" in typo.output
    upper = infra("up", "--stack", "Bad_Name", "--param", "WorkerAmiId=ami-1")
    assert upper.exit_code == 1 and "lowercase" in upper.output


def test_permissions_lists_every_role_with_reasons():
    result = infra("permissions", "--json")
    assert result.exit_code == 0
    rows = json.loads(result.output)
    assert {r["role"] for r in rows} == {"WorkerRole", "ControllerRole", "FunctionRole"}
    assert all(r["why"] for r in rows)
