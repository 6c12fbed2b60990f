"""Least privilege, checked on the policy documents in infra/template.yaml."""

from __future__ import annotations

import pytest

from edgecloud.infra.policies import WHY, role_statements

# Actions AWS offers no resource-level permissions for: "*" is the only resource they accept.
NO_RESOURCE_LEVEL = {
    "ec2:DescribeInstances",
    "autoscaling:DescribeAutoScalingGroups",
    "lambda:ListEventSourceMappings",
    "cloudwatch:GetMetricStatistics",
}


def _all_policy_documents(template):
    """Every policy document in the template: role inline policies, IAM policies, bucket policies."""
    for logical_id, res in template["Resources"].items():
        props = res.get("Properties", {})
        for policy in props.get("Policies", []):
            yield logical_id, policy["PolicyDocument"]
        if "PolicyDocument" in props:
            yield logical_id, props["PolicyDocument"]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _sub(value):
    """The text of a !Sub resource (or the plain string)."""
    if isinstance(value, dict) and "Fn::Sub" in value:
        return value["Fn::Sub"]
    return value


def actions_of(grants):
    return {a for g in grants for a in g.actions}


@pytest.fixture(scope="module")
def grants(template):
    return role_statements(template)


def test_no_allow_statement_uses_wildcard_actions(template):
    allows = 0
    for logical_id, doc in _all_policy_documents(template):
        for st in doc["Statement"]:
            if st["Effect"] != "Allow":
                continue
            allows += 1
            for action in _as_list(st["Action"]):
                service, _, name = action.partition(":")
                assert action != "*" and name != "*" and "*" not in name, f"{logical_id}: wildcard action {action}"
    assert allows >= 15


def test_star_resources_only_for_actions_without_resource_level_permissions(grants):
    for role, role_grants in grants.items():
        for g in role_grants:
            if g.actions == ("cloudwatch:PutMetricData",):  # a write without resource-level permissions:
                assert g.condition == {"StringEquals": {"cloudwatch:namespace": "edgecloud"}}  # our namespace only
                continue
            if "*" in g.resources:
                assert set(g.actions) <= NO_RESOURCE_LEVEL, f"{role}/{g.sid}: {g.actions} on *"
                assert all(a.split(":")[1].startswith(("Describe", "List", "Get")) for a in g.actions)  # reads


def test_only_deny_statements_may_name_a_whole_service(template):
    # The buckets' policies deny every s3 action over plain HTTP; that is the one s3:* in the template.
    for _logical_id, doc in _all_policy_documents(template):
        for st in doc["Statement"]:
            if "s3:*" in _as_list(st["Action"]):
                assert st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_worker_has_exactly_the_listed_permissions(grants):
    worker = grants["WorkerRole"]
    assert actions_of(worker) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:ChangeMessageVisibility",
        "sqs:GetQueueUrl",
        "sqs:SendMessage",
        "ec2:TerminateInstances",
        "autoscaling:TerminateInstanceInAutoScalingGroup",
        "autoscaling:SetInstanceProtection",
        "dynamodb:Scan",
        "dynamodb:PutItem",
    }
    by_action = {a: g for g in worker for a in g.actions}
    resources = {a: {str(r) for g in worker if a in g.actions for r in g.resources} for a in actions_of(worker)}
    # Reads clips/ and results/ (a redelivered job's stored result), writes only results/.
    assert resources["s3:GetObject"] == {
        str({"Fn::Sub": "${ClipsBucket.Arn}/clips/*"}),
        str({"Fn::Sub": "${ResultsBucket.Arn}/results/*"}),
    }
    assert resources["s3:PutObject"] == {
        str({"Fn::Sub": "${ResultsBucket.Arn}/results/*"}),
        str({"Fn::Sub": "${ResultsBucket.Arn}/snapshots/*"}),
    }
    assert resources["s3:ListBucket"] == {str({"Fn::GetAtt": ["ResultsBucket", "Arn"]})}
    # Works the jobs queue and takes retire asks, sends only to the completion queue.
    jobs, retire = str({"Fn::GetAtt": ["JobsQueue", "Arn"]}), str({"Fn::GetAtt": ["RetireQueue", "Arn"]})
    for action in ("sqs:ReceiveMessage", "sqs:DeleteMessage"):
        assert resources[action] == {jobs, retire}
    assert resources["sqs:ChangeMessageVisibility"] == {jobs}
    assert by_action["sqs:SendMessage"].resources == ({"Fn::GetAtt": ["CompletionsQueue", "Arn"]},)
    # Reads the enrolled faces (the faces detector), and only that table; enrolling is not a worker's job.
    assert by_action["dynamodb:Scan"].resources == ({"Fn::GetAtt": ["FacesTable", "Arn"]},)
    # Writes its own state to the workers table, and no other table.
    assert by_action["dynamodb:PutItem"].resources == ({"Fn::GetAtt": ["WorkersTable", "Arn"]},)
    # The Auto Scaling calls exist only with the group, and name only that group.
    asg = by_action["autoscaling:TerminateInstanceInAutoScalingGroup"]
    assert asg.only_if == "WithAutoScalingGroup"
    assert _sub(asg.resources[0]).endswith("autoScalingGroupName/${NamePrefix}-workers")


def test_worker_terminates_only_tagged_fleet_workers(grants):
    (terminate,) = [g for g in grants["WorkerRole"] if "ec2:TerminateInstances" in g.actions]
    assert terminate.actions == ("ec2:TerminateInstances",)
    assert _sub(terminate.resources[0]).endswith(":instance/*")
    assert terminate.condition == {
        "StringEquals": {
            "ec2:ResourceTag/edgecloud:fleet": {"Ref": "FleetName"},
            "ec2:ResourceTag/edgecloud:role": "worker",
        }
    }
    # Tag conditions mean something only if the worker cannot tag: it has no CreateTags at all.
    assert "ec2:CreateTags" not in actions_of(grants["WorkerRole"])


def test_controller_launches_only_from_the_fleet_launch_template(grants):
    run = [g for g in grants["ControllerRole"] if "ec2:RunInstances" in g.actions]
    assert len(run) == 2
    template_arn = "arn:${AWS::Partition}:ec2:${AWS::Region}:${AWS::AccountId}:launch-template/${WorkerLaunchTemplate}"
    for g in run:
        assert g.actions == ("ec2:RunInstances",)
        assert g.condition["ArnEquals"] == {"ec2:LaunchTemplate": {"Fn::Sub": template_arn}}
    (instances,) = [g for g in run if any(_sub(r).endswith(":instance/*") for r in g.resources)]
    assert instances.condition["StringEquals"] == {
        "aws:RequestTag/edgecloud:fleet": {"Ref": "FleetName"},
        "aws:RequestTag/edgecloud:role": "worker",
    }
    # The image is the worker AMI, the security group the workers' own.
    resources = [_sub(r) for g in run for r in g.resources]
    assert "arn:${AWS::Partition}:ec2:${AWS::Region}::image/${WorkerAmiId}" in resources
    assert not any(r.endswith(":image/*") or r.endswith(":security-group/*") for r in resources)


def test_controller_tags_only_while_launching_and_passes_only_the_worker_role(grants):
    controller = {g.sid: g for g in grants["ControllerRole"]}
    tags = controller["TagWorkersAtLaunch"]
    assert tags.actions == ("ec2:CreateTags",)
    assert tags.condition == {"StringEquals": {"ec2:CreateAction": "RunInstances"}}
    passrole = controller["PassWorkerRole"]
    assert passrole.actions == ("iam:PassRole",)
    assert passrole.resources == ({"Fn::GetAtt": ["WorkerRole", "Arn"]},)
    assert passrole.condition == {"StringEquals": {"iam:PassedToService": "ec2.amazonaws.com"}}


def test_controller_has_exactly_the_listed_permissions(grants):
    always = [g for g in grants["ControllerRole"] if g.only_if != "WithFunction"]
    with_function = [g for g in grants["ControllerRole"] if g.only_if == "WithFunction"]
    assert actions_of(with_function) == {
        "s3:PutObject",
        "sqs:CreateQueue",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueUrl",
        "lambda:GetFunctionConcurrency",
        "lambda:ListEventSourceMappings",
        "cloudwatch:GetMetricStatistics",
    }
    answers = "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${NamePrefix}-answers-*"
    assert all(
        _sub(r) == answers for g in with_function if any(a.startswith("sqs:") for a in g.actions) for r in g.resources
    )
    assert actions_of(always) == {
        "s3:PutObject",
        "s3:GetObject",
        "s3:AbortMultipartUpload",
        "s3:ListBucket",
        "sqs:SendMessage",
        "sqs:GetQueueAttributes",
        "sqs:GetQueueUrl",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "ec2:RunInstances",
        "ec2:CreateTags",
        "ec2:DescribeInstances",
        "iam:PassRole",
        "autoscaling:SetDesiredCapacity",
        "autoscaling:DescribeAutoScalingGroups",
        "sns:Publish",  # alerts, on the stack's topic only
        "dynamodb:GetItem",
        "dynamodb:UpdateItem",
        "dynamodb:BatchGetItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:Query",  # the clip ledger
        "dynamodb:Scan",  # workers' states (the lease's PutItem/DeleteItem are listed with the ledger's)
        "cloudwatch:PutMetricData",  # the leader's metrics, namespace edgecloud only
        "secretsmanager:GetSecretValue",  # the dashboard's signing key, and only that secret
    }
    tables = {
        a: {str(r) for g in always if a in g.actions for r in g.resources}
        for a in ("dynamodb:Scan", "dynamodb:PutItem", "dynamodb:DeleteItem")
    }
    writable = {str({"Fn::GetAtt": [t, "Arn"]}) for t in ("ClipsTable", "LeasesTable", "SessionsTable")}
    events = str({"Fn::GetAtt": ["EventsTable", "Arn"]})  # put, never deleted: a merged event leaves a tombstone
    credentials = str({"Fn::GetAtt": ["CredentialsTable", "Arn"]})  # one item: see the sessions test
    assert tables == {
        "dynamodb:Scan": {str({"Fn::GetAtt": ["WorkersTable", "Arn"]})},
        "dynamodb:PutItem": writable | {events},
        "dynamodb:DeleteItem": writable | {credentials},
    }
    (alerts,) = [g for g in grants["ControllerRole"] if "sns:Publish" in g.actions]
    assert alerts.resources == ({"Ref": "EventsTopic"},)
    # Nothing that destroys: the controller never terminates workers (they retire) nor deletes objects.
    forbidden = {"ec2:TerminateInstances", "s3:DeleteObject", "sqs:DeleteQueue", "sqs:PurgeQueue"}
    assert not actions_of(grants["ControllerRole"]) & forbidden


def test_controller_keeps_sessions_reads_only_its_key_and_never_deletes_a_token(grants):
    controller = {g.sid: g for g in grants["ControllerRole"]}
    sessions = controller["KeepDashboardSessions"]
    assert set(sessions.actions) == {"dynamodb:GetItem", "dynamodb:PutItem", "dynamodb:DeleteItem"}
    assert sessions.resources == ({"Fn::GetAtt": ["SessionsTable", "Arn"]},)
    key = controller["ReadDashboardKey"]
    assert key.actions == ("secretsmanager:GetSecretValue",) and key.resources == ({"Ref": "DashboardKey"},)
    # In the credentials table it may delete only the old signing key's item, never a token.
    deletes = [
        g
        for g in grants["ControllerRole"]
        if "dynamodb:DeleteItem" in g.actions and {"Fn::GetAtt": ["CredentialsTable", "Arn"]} in g.resources
    ]
    assert [g.sid for g in deletes] == ["ForgetOldDashboardKey"] and deletes[0].actions == ("dynamodb:DeleteItem",)
    assert deletes[0].condition == {"ForAllValues:StringEquals": {"dynamodb:LeadingKeys": ["dashboard#secret-key"]}}
    from edgecloud.credentials import OLD_DASHBOARD_KEY

    assert OLD_DASHBOARD_KEY == {"pk": {"S": "dashboard#secret-key"}}


def test_every_s3_object_grant_is_limited_to_its_prefix(grants):
    buckets = [{"Fn::GetAtt": ["ClipsBucket", "Arn"]}, {"Fn::GetAtt": ["ResultsBucket", "Arn"]}]
    for role, role_grants in grants.items():
        for g in role_grants:
            if g.actions == ("s3:ListBucket",):  # bucket-level: names our two buckets, nothing else
                assert all(r in buckets for r in g.resources), f"{role}/{g.sid}"
            elif any(a.startswith("s3:") for a in g.actions):
                for r in g.resources:
                    assert _sub(r).endswith(("/clips/*", "/results/*", "/snapshots/*", "/frames/*")), (
                        f"{role}/{g.sid}: {r}"
                    )


def test_every_statement_is_explained(grants):
    sids = [g.sid for role_grants in grants.values() for g in role_grants]
    assert len(sids) == len(set(sids)), "Sids must be unique: they key the explanations"
    assert set(sids) == set(WHY)


def test_roles_are_for_ec2_or_the_function_only(template):
    for logical_id, res in template["Resources"].items():
        if res["Type"] == "AWS::IAM::Role":
            (st,) = res["Properties"]["AssumeRolePolicyDocument"]["Statement"]
            service = "lambda.amazonaws.com" if logical_id == "FunctionRole" else "ec2.amazonaws.com"
            assert st == {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}


def test_function_has_exactly_the_worker_job_permissions_plus_frames(grants):
    function = grants["FunctionRole"]
    assert all(g.only_if == "WithFunction" for g in function)
    assert actions_of(function) == {
        "s3:GetObject",
        "s3:PutObject",
        "s3:ListBucket",
        "sqs:ReceiveMessage",
        "sqs:DeleteMessage",
        "sqs:GetQueueAttributes",
        "sqs:SendMessage",
        "sqs:GetQueueUrl",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
        "dynamodb:PutItem",
    }
    resources = {
        a: {_sub(r) if isinstance(_sub(r), str) else str(r) for g in function if a in g.actions for r in g.resources}
        for a in actions_of(function)
    }
    assert resources["s3:PutObject"] == {"${ResultsBucket.Arn}/results/*"}  # writes results, nothing else
    assert resources["sqs:DeleteMessage"] == {str({"Fn::GetAtt": ["JobsQueue", "Arn"]})}
    assert resources["sqs:SendMessage"] == {
        str({"Fn::GetAtt": ["CompletionsQueue", "Arn"]}),
        "arn:${AWS::Partition}:sqs:${AWS::Region}:${AWS::AccountId}:${NamePrefix}-answers-*",
    }


def test_retire_queue_asks_flow_one_way(grants):
    """The controller only puts asks (and counts them); workers only take them."""
    retire = {"Fn::GetAtt": ["RetireQueue", "Arn"]}

    def on_retire_queue(role):
        return {a for g in grants[role] if retire in g.resources for a in g.actions}

    assert on_retire_queue("ControllerRole") == {"sqs:SendMessage", "sqs:GetQueueAttributes", "sqs:GetQueueUrl"}
    assert on_retire_queue("WorkerRole") == {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueUrl"}


def test_the_function_writes_only_its_own_item_of_the_workers_table(grants, template):
    (report,) = [g for g in grants["FunctionRole"] if g.actions == ("dynamodb:PutItem",)]
    assert report.resources == ({"Fn::GetAtt": ["WorkersTable", "Arn"]},)
    assert report.condition == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [{"Fn::Sub": "lambda:${NamePrefix}-worker"}]}
    }
    env = template["Resources"]["WorkerFunction"]["Properties"]["Environment"]["Variables"]
    assert env["EDGECLOUD_FUNCTION__NAME"] == {"Fn::Sub": "${NamePrefix}-worker"}  # the item it may write
    assert env["EDGECLOUD_TABLES__WORKERS"] == {"Ref": "WorkersTable"}
