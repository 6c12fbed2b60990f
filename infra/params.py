"""Settings in, stack parameters out; stack outputs in, settings out.

``stack_parameters`` turns the current settings (plus ``--param`` overrides)
into the template's parameters, so one config file drives the deployment.
``settings_from_outputs`` goes the other way: the deployed names replace the
storage / queues / fleet settings, giving the config the controller and the
workers read.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from edgecloud.aws import Aws
from edgecloud.config import Settings, from_dict

TEMPLATE_PATH = Path(__file__).with_name("template.yaml")
NAME_PREFIX_RE = re.compile(r"^[a-z][a-z0-9-]{1,19}$")


class InfraError(RuntimeError):
    """Deploying or removing the stack failed; the message says why and what to do."""


def template_body() -> str:
    return TEMPLATE_PATH.read_text()


def template_parameters() -> dict[str, dict[str, Any]]:
    """The template's Parameters block (name -> Type, Default, ...)."""

    # Only the Parameters block matters here; intrinsic-function tags need no meaning for that.
    class _Loader(yaml.SafeLoader):
        pass

    _Loader.add_multi_constructor("!", lambda loader, suffix, node: None)
    return yaml.load(template_body(), Loader=_Loader)["Parameters"]


def template_parameter_names() -> set[str]:
    return set(template_parameters())


def template_defaults() -> dict[str, str]:
    """Default of each parameter that has one, as the string CloudFormation compares."""
    return {name: str(p["Default"]) for name, p in template_parameters().items() if "Default" in p}


def parse_param_overrides(pairs: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``["Key=Value", ...]`` -> dict; unknown keys are refused (a typo would otherwise be ignored)."""
    known = template_parameter_names()
    params: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InfraError(f"--param {pair!r}: expected KEY=VALUE")
        if key not in known:
            raise InfraError(f"--param {key}: not a template parameter (one of {', '.join(sorted(known))})")
        params[key] = value
    return params


def stack_parameters(settings: Settings, stack: str) -> dict[str, str]:
    """Template parameters that follow from the settings; values left out keep the template default."""
    if not NAME_PREFIX_RE.match(stack):
        raise InfraError(
            f"stack name {stack!r} also prefixes bucket names: use 2-20 lowercase letters, digits, hyphens"
        )
    f, q = settings.fleet, settings.queues
    params = {
        "NamePrefix": stack,
        "FleetName": f.name,
        "InstanceType": f.instance_type,
        "MaxReceive": str(q.max_receive),
        "VisibilityTimeout": str(q.visibility_timeout),
        "ClipRetentionDays": str(settings.infra.clip_retention_days),
        "DetectorName": settings.detector.name,
        "WorkerIdleTimeout": str(max(1, round(settings.worker.idle_timeout))),
        "CreateAutoScalingGroup": "true" if f.backend == "asg" else "false",
        "MaxWorkers": str(max(1, settings.autoscaler.max_workers)),
        "FleetScaling": f.scaling,
        "TargetLatency": str(max(1, round(settings.autoscaler.target_latency_s))),
        # AWS's SQS recipe: the backlog one worker clears within the target latency.
        "BacklogPerWorkerTarget": str(
            max(1, round(settings.autoscaler.target_latency_s / settings.autoscaler.process_time_s))
        ),
    }
    if f.backend == "lambda":
        fn = settings.function
        params.update(
            CreateFunction="true",
            FunctionMemory=str(fn.memory_mb),
            FunctionTimeout=str(fn.timeout_s),
            FunctionBatchSize=str(fn.batch_size),
            FunctionMaxConcurrency=str(min(1000, max(2, settings.autoscaler.max_workers))),
        )
        if fn.image_uri:
            params["FunctionImageUri"] = fn.image_uri
    if f.ami_id:
        params["WorkerAmiId"] = f.ami_id
    if f.subnet_ids:
        params["SubnetIds"] = ",".join(f.subnet_ids)
    if settings.controller.port:
        params["ControllerPort"] = str(settings.controller.port)
    if settings.infra.controller_ingress_cidr:
        params["ControllerIngressCidr"] = settings.infra.controller_ingress_cidr
    return params


def default_network(aws: Aws) -> dict[str, str]:
    """VpcId and SubnetIds of the account's default VPC (every new account has one)."""
    vpcs = aws.ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"]
    if not vpcs:
        raise InfraError("no default VPC: pass --param VpcId=vpc-... --param SubnetIds=subnet-a,subnet-b")
    vpc_id = vpcs[0]["VpcId"]
    subnets = aws.ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])["Subnets"]
    if not subnets:
        raise InfraError(f"default VPC {vpc_id} has no subnets: pass --param SubnetIds=...")
    ids = sorted(s["SubnetId"] for s in subnets)
    return {"VpcId": vpc_id, "SubnetIds": ",".join(ids)}


def vpc_of_subnet(aws: Aws, subnet_id: str) -> str:
    return aws.ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"][0]["VpcId"]


def complete_network(aws: Aws, params: dict[str, str]) -> dict[str, str]:
    """Fill in VpcId / SubnetIds: from the given subnets, else the default VPC."""
    params = dict(params)
    if "VpcId" in params and "SubnetIds" in params:
        return params
    if "SubnetIds" in params:
        params["VpcId"] = vpc_of_subnet(aws, params["SubnetIds"].split(",")[0])
        return params
    network = default_network(aws)
    if "VpcId" in params and params["VpcId"] != network["VpcId"]:
        raise InfraError(f"VpcId {params['VpcId']} is not the default VPC: pass --param SubnetIds too")
    return {**network, **params}


def settings_from_outputs(settings: Settings, outputs: dict[str, str], stack: str) -> Settings:
    """The settings with every deployed name taken from the stack's outputs."""
    data: dict[str, Any] = settings.model_dump(mode="json")
    data["aws"]["region"] = outputs["Region"]
    data["storage"].update(clips_bucket=outputs["ClipsBucket"], results_bucket=outputs["ResultsBucket"])
    if outputs.get("CredentialsTable"):  # stacks from before it keep the default
        data["tables"]["credentials"] = outputs["CredentialsTable"]
    data["queues"].update(
        jobs=outputs["JobsQueue"],
        completions=outputs["CompletionsQueue"],
        dead_letter=outputs["DeadLetterQueue"],
        retire=outputs.get("RetireQueue", data["queues"]["retire"]),  # stacks from before it keep the default
        max_receive=int(outputs["MaxReceive"]),
        visibility_timeout=int(outputs["VisibilityTimeout"]),
    )
    if "EventsTopic" in outputs:
        data["notify"]["sns_topic"] = outputs["EventsTopic"]  # the topic's ARN
    if outputs.get("ClipsTable"):  # the stack's controllers share their clip ledger there
        data["tables"]["clips"] = outputs["ClipsTable"]
        data["controller"]["ledger"] = "dynamodb"
    for table, output in (
        ("faces", "FacesTable"),
        ("workers", "WorkersTable"),
        ("leases", "LeasesTable"),
        ("sessions", "SessionsTable"),
        ("events", "EventsTable"),
    ):
        data["tables"][table] = outputs.get(output, data["tables"][table])  # stacks from before keep the default
    data["controller"]["secret_name"] = outputs.get("DashboardKeySecret", data["controller"]["secret_name"])
    asg = outputs.get("AutoScalingGroup")
    data["fleet"].update(
        # With an Auto Scaling group the asg backend; otherwise RunInstances from the launch template.
        backend="asg" if asg else "ec2",
        name=outputs["FleetName"],
        launch_template=outputs["LaunchTemplate"],
        launch_template_version="$Latest",  # what the stack's Auto Scaling group uses too
        ami_id=None,  # the launch template carries the AMI
        instance_type=outputs["InstanceType"],
        subnet_ids=[s for s in outputs["SubnetIds"].split(",") if s],
        security_group_ids=[outputs["WorkerSecurityGroupId"]],
        instance_profile=outputs["WorkerInstanceProfile"],
        asg_name=asg,
        scaling=outputs.get("FleetScaling", "loop"),
    )
    if outputs.get("FunctionName"):
        data["fleet"]["backend"] = "lambda"
        data["function"]["name"] = outputs["FunctionName"]
        data["storage"]["frames_bucket"] = outputs["FramesBucket"]
        data["queues"]["frame_answers"] = outputs["FrameAnswersQueuePrefix"]
    if outputs.get("ControllerUrl"):
        data["controller"]["url"] = outputs["ControllerUrl"]
        data["edge"]["controller_url"] = outputs["ControllerUrl"]
    data["infra"]["stack"] = stack
    return from_dict(data)
