"""infra/template.yaml: lints clean, deploys on moto, and says what moto cannot check."""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from edgecloud.config import from_dict
from edgecloud.infra.deploy import Stack
from edgecloud.infra.params import TEMPLATE_PATH, complete_network, stack_parameters, template_body, template_defaults


def _cfn_lint() -> str | None:
    beside_python = Path(sys.executable).with_name("cfn-lint")
    return str(beside_python) if beside_python.exists() else shutil.which("cfn-lint")


@pytest.mark.slow
def test_cfn_lint_passes():
    cfn_lint = _cfn_lint()
    if cfn_lint is None:
        pytest.skip("cfn-lint is not installed (pip install cfn-lint; it is in the dev extra)")
    run = subprocess.run([cfn_lint, str(TEMPLATE_PATH)], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stdout + run.stderr


def _deploy(aws, ami, settings, name, **extra) -> tuple[Stack, dict[str, str]]:
    stack = Stack(aws, name, poll_seconds=0.05)
    params = complete_network(aws, stack_parameters(settings, name) | {"WorkerAmiId": ami} | extra)
    assert stack.deploy(template_body(), params, defaults=template_defaults()) == "created"
    return stack, params


def _user_data_config(aws, launch_template: str) -> dict:
    data = aws.ec2.describe_launch_template_versions(LaunchTemplateName=launch_template, Versions=["$Latest"])[
        "LaunchTemplateVersions"
    ][0]["LaunchTemplateData"]
    cloud_config = yaml.safe_load(base64.b64decode(data["UserData"]))
    (written,) = cloud_config["write_files"]
    assert written["path"] == "/etc/edgecloud/config.yaml"
    return yaml.safe_load(written["content"])


@pytest.mark.parametrize("with_asg", ["false", "true"])
def test_stack_deploys_on_moto_with_the_promised_resources(moto_account, settings, with_asg):
    aws, ami = moto_account
    settings.queues.max_receive = 4
    settings.queues.visibility_timeout = 90
    stack, _ = _deploy(aws, ami, settings, "ec-test", CreateAutoScalingGroup=with_asg)
    out = stack.outputs()
    assert out["ClipsBucket"] == "ec-test-clips-123456789012-us-east-1"
    assert out["ResultsBucket"] == "ec-test-results-123456789012-us-east-1"

    for bucket in (out["ClipsBucket"], out["ResultsBucket"]):
        rules = aws.s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        assert rules[0]["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"

    jobs_url = aws.sqs.get_queue_url(QueueName=out["JobsQueue"])["QueueUrl"]
    attrs = aws.sqs.get_queue_attributes(QueueUrl=jobs_url, AttributeNames=["All"])["Attributes"]
    redrive = json.loads(attrs["RedrivePolicy"])
    assert int(redrive["maxReceiveCount"]) == 4
    assert redrive["deadLetterTargetArn"].endswith(":" + out["DeadLetterQueue"])
    assert attrs["VisibilityTimeout"] == "90"
    assert attrs["SqsManagedSseEnabled"] == "true"
    aws.sqs.get_queue_url(QueueName=out["CompletionsQueue"])
    retire_url = aws.sqs.get_queue_url(QueueName=out["RetireQueue"])["QueueUrl"]
    retire_attrs = aws.sqs.get_queue_attributes(QueueUrl=retire_url, AttributeNames=["All"])["Attributes"]
    assert retire_attrs["MessageRetentionPeriod"] == "60"  # stale scale-in asks expire

    template = aws.ec2.describe_launch_template_versions(
        LaunchTemplateName=out["LaunchTemplate"], Versions=["$Latest"]
    )["LaunchTemplateVersions"][0]["LaunchTemplateData"]
    assert template["MetadataOptions"]["HttpTokens"] == "required"
    assert template["ImageId"] == ami
    assert template["IamInstanceProfile"]["Arn"].endswith("/" + out["WorkerInstanceProfile"])
    assert template["SecurityGroupIds"] == [out["WorkerSecurityGroupId"]]
    instance_tags = {
        t["Key"]: t["Value"]
        for spec in template["TagSpecifications"]
        if spec["ResourceType"] == "instance"
        for t in spec["Tags"]
    }
    assert instance_tags == {"edgecloud:fleet": settings.fleet.name, "edgecloud:role": "worker"}

    # The worker's config from user-data is valid and names the deployed resources.
    worker = from_dict(_user_data_config(aws, out["LaunchTemplate"]))
    assert (worker.storage.clips_bucket, worker.queues.jobs, worker.queues.max_receive) == (
        out["ClipsBucket"],
        out["JobsQueue"],
        4,
    )
    assert worker.queues.retire == out["RetireQueue"]
    assert worker.fleet.backend == ("asg" if with_asg == "true" else "ec2")

    groups = aws.autoscaling.describe_auto_scaling_groups()["AutoScalingGroups"]
    if with_asg == "true":
        (group,) = groups
        assert (group["AutoScalingGroupName"], group["MinSize"]) == (out["AutoScalingGroup"], 0)
        assert worker.fleet.asg_name == out["AutoScalingGroup"]
    else:
        assert groups == [] and "AutoScalingGroup" not in out and worker.fleet.asg_name is None

    sg = aws.ec2.describe_security_groups(GroupIds=[out["WorkerSecurityGroupId"]])["SecurityGroups"][0]
    assert sg["IpPermissions"] == []


def test_optional_controller_instance_boots_with_its_own_config(moto_account, settings, template):
    aws, ami = moto_account
    stack, _ = _deploy(aws, ami, settings, "ec-ctl", CreateController="true", ControllerPort="8081")
    out = stack.outputs()
    (reservation,) = aws.ec2.describe_instances(InstanceIds=[out["ControllerInstanceId"]])["Reservations"]
    assert reservation["Instances"][0]["ImageId"] == ami
    # (moto's CloudFormation ignores the instance's launch template, so its settings are read from the template.)
    assert out["ControllerUrl"].startswith("http://") and out["ControllerUrl"].endswith(":8081")
    data = aws.ec2.describe_launch_template_versions(LaunchTemplateName="ec-ctl-controller", Versions=["$Latest"])[
        "LaunchTemplateVersions"
    ][0]["LaunchTemplateData"]
    assert data["MetadataOptions"]["HttpTokens"] == "required"
    assert data["IamInstanceProfile"]["Arn"].endswith("/" + out["ControllerInstanceProfile"])
    controller = from_dict(_user_data_config(aws, "ec-ctl-controller"))
    assert controller.fleet.launch_template == out["LaunchTemplate"]
    assert controller.fleet.subnet_ids == out["SubnetIds"].split(",")
    assert (controller.controller.host, controller.controller.port) == ("0.0.0.0", 8081)
    assert controller.storage.results_bucket == out["ResultsBucket"]
    # Dashboard sessions in their own table (expiring by TTL), the signing key in Secrets Manager.
    assert controller.tables.sessions == out["SessionsTable"] == "ec-ctl-sessions"
    assert controller.controller.secret_name == out["DashboardKeySecret"] == "ec-ctl/dashboard-key"
    # (moto's CloudFormation drops a table's TTL and makes no secrets: those are read from the template.)
    resources = template["Resources"]
    assert resources["SessionsTable"]["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expiration",
        "Enabled": True,
    }
    secret = resources["DashboardKey"]["Properties"]
    assert secret["Name"] == {"Fn::Sub": "${NamePrefix}/dashboard-key"} and secret["GenerateSecretString"]


def _tiny_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr("edgecloud/worker/lambda_handler.py", "def handle(event, context):\n    return {}\n")
    return buffer.getvalue()


def test_update_applies_changes_and_a_repeat_is_harmless(moto_account, settings, tmp_path):
    aws, ami = moto_account
    # moto cannot update a stack whose conditional resources were left out, so this runs with the
    # group and the function. (moto also never answers "No updates are to be performed": see test_deploy.py.)
    from edgecloud.infra.artifacts import upload_zip

    (tmp_path / "fn.zip").write_bytes(_tiny_zip())
    code = upload_zip(aws, "ec-upd", tmp_path / "fn.zip")
    stack, params = _deploy(aws, ami, settings, "ec-upd", CreateAutoScalingGroup="true", CreateFunction="true", **code)
    assert stack.deploy(template_body(), params, defaults=template_defaults()) in ("unchanged", "updated")
    assert stack.status() in ("CREATE_COMPLETE", "UPDATE_COMPLETE")
    assert (
        stack.deploy(template_body(), params | {"VisibilityTimeout": "300"}, defaults=template_defaults()) == "updated"
    )
    url = aws.sqs.get_queue_url(QueueName="ec-upd-jobs")["QueueUrl"]
    assert (
        aws.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout"])["Attributes"][
            "VisibilityTimeout"
        ]
        == "300"
    )
    assert stack.outputs()["VisibilityTimeout"] == "300"


def test_buckets_block_public_access_expire_old_clips_and_refuse_plain_http(template):
    # moto accepts but does not store these settings, so they are checked on the template itself.
    resources = template["Resources"]
    for name in ("ClipsBucket", "ResultsBucket"):
        props = resources[name]["Properties"]
        assert set(props["PublicAccessBlockConfiguration"].values()) == {True}
        assert len(props["PublicAccessBlockConfiguration"]) == 4
        assert (
            props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"][
                "SSEAlgorithm"
            ]
            == "AES256"
        )
        policy = next(
            r
            for r in resources.values()
            if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": name}
        )
        (deny,) = policy["Properties"]["PolicyDocument"]["Statement"]
        assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (expire,) = [
        r for r in resources["ClipsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"] if "ExpirationInDays" in r
    ]
    assert expire["Prefix"] == "clips/" and expire["ExpirationInDays"] == {"Ref": "ClipRetentionDays"}
    # Results are kept: no expiry on the results bucket.
    assert not any(
        "ExpirationInDays" in r for r in resources["ResultsBucket"]["Properties"]["LifecycleConfiguration"]["Rules"]
    )


def test_launch_template_requires_imdsv2_and_terminates_on_shutdown(template):
    data = template["Resources"]["WorkerLaunchTemplate"]["Properties"]["LaunchTemplateData"]
    assert data["MetadataOptions"] == {
        "HttpEndpoint": "enabled",
        "HttpTokens": "required",
        "HttpPutResponseHopLimit": 1,
    }
    assert data["InstanceInitiatedShutdownBehavior"] == "terminate"
    worker_sg = template["Resources"]["WorkerSecurityGroup"]["Properties"]
    assert "SecurityGroupIngress" not in worker_sg
    assert [(r["FromPort"], r["ToPort"]) for r in worker_sg["SecurityGroupEgress"]] == [(443, 443)]
