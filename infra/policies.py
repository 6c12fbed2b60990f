"""Read the IAM policies straight out of ``template.yaml``.

A YAML loader that keeps CloudFormation's short-form tags (``!Ref``,
``!Sub``, ``!GetAtt`` ...) as ``{"Ref": ...}``-style dicts, so the template
can be inspected as data: ``role_statements`` lists every statement each role
gets (inline policies plus ``AWS::IAM::Policy`` resources attached to it), and
``permission_rows`` explains each one. The tests check least privilege on the
same data ``edgecloud infra permissions`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml

from .params import template_body

# Why each statement exists, by Sid. A statement without an entry here fails the tests.
WHY = {
    "ReadClips": "download the clip named in a job (clips/ prefix only)",
    "ReadWriteResults": "store the result JSON at results/<device>/<date>/<clip>.json (first write wins); "
    "read the stored one when a job is delivered twice",
    "SeeMissingResults": "without ListBucket S3 answers 403, not 404, for a result not written yet, "
    "and the duplicate check would fail every job",
    "WorkJobsQueue": "long-poll jobs, delete a finished one, extend visibility while working (heartbeat)",
    "ReportCompletions": "tell the controller a job finished (completion queue)",
    "TakeRetireAsks": "scale-in: an idle worker takes one of the controller's asks to leave (retire queue), "
    "deleting it once it is leaving the fleet",
    "ReadEnrolledFaces": "faces detector: read the enrolled people (name, embeddings, record) to name the faces "
    "it finds; it cannot enrol, change or delete anyone",
    "RetireOwnFleetInstance": "retire when idle: terminate an instance tagged as a worker of this fleet "
    "(the worker cannot tag, so it cannot make another instance match)",
    "RetireFromAutoScalingGroup": "asg backend: leave the group with desired-1, and guard itself from "
    "scale-in while it holds a job",
    "StoreClips": "store a clip the edge uploaded (multipart for big ones, abort a failed one); HeadObject "
    "(authorised by GetObject) spots a re-uploaded clip id",
    "StoreAndReadResults": "store a result (and snapshot) computed on the edge; read results for GET "
    "/v1/clips/<id>; sign the dashboard's snapshot links",
    "WriteSnapshots": "store the snapshot JPEG at snapshots/<device>/<date>/<clip>.jpg, beside the result",
    "PublishAlerts": "publish alerts on matching results (notify.rules) to the stack's SNS topic",
    "SeeMissingObjects": "without ListBucket S3 answers 403, not 404, for a clip or result that is not "
    "there, so 'new clip' and 'not done yet' would read as errors",
    "QueueJobs": "queue a job for a clip without a result; read queue depth for the autoscaler",
    "AskWorkersToRetire": "scale-in: put one ask per surplus worker on the retire queue, counting the "
    "asks still outstanding so none pile up (it cannot read or delete them)",
    "ConsumeCompletionsAndDeadLetters": "consume completions, and turn dead-lettered jobs into failed results",
    "LaunchFromFleetTemplate": "RunInstances touches these resources; only with the fleet's launch template",
    "LaunchOnlyTaggedWorkers": "new instances must come from the launch template and carry the fleet tags",
    "TagWorkersAtLaunch": "tags go on in the RunInstances call itself, never on existing resources",
    "CountWorkers": "count pending/running workers by tag (DescribeInstances has no resource-level permissions)",
    "CheckTokensAndCountUploads": "read a presented token's hash (credentials table) and count each device's "
    "uploads per UTC day (atomic update); never scans, never writes tokens",
    "KeepDashboardSessions": "dashboard sessions every controller shares: read one by its random id, store one "
    "at login, delete it at logout (and record a used one-time login link); never scans",
    "ReadDashboardKey": "read the key that signs the dashboard's one-time login links (the stack generated it)",
    "ForgetOldDashboardKey": "delete the signing key older controllers kept in the credentials table, and only "
    "that item (its partition key is the condition); never a token",
    "KeepTheClipLedger": "the clip ledger every controller shares: add, move on (conditional updates), forget a "
    "half-made upload, read one clip or the waited ones (BatchGetItem); never scans",
    "QueryTheClipLedger": "query the clip ledger's indexes only (by device and day, by submitted or finished time)",
    "KeepTheEvents": "the events every controller shares: place a clip (a transaction conditioned on versions), "
    "claim an event for an alert, read events; never deletes (a merged event leaves a tombstone)",
    "QueryTheEvents": "query the events table's indexes only (by device, by day)",
    "ReportWorkerState": "write this worker's state (polling, busy, retiring) to the workers table, one item "
    "per worker, so the autoscaler counts booting and idle workers right",
    "ReadWorkerStates": "the autoscaler reads every worker's reported state (one Scan per tick)",
    "HoldAutoscalerLease": "take, renew and give back the autoscaler lease (conditional writes on one item): "
    "exactly one controller launches workers",
    "PublishMetrics": "the leader publishes backlog per worker, oldest job age, latency and workers by state; "
    "PutMetricData has no resource-level permissions, so the namespace is the condition",
    "PassWorkerRole": "hand the worker role to new instances (the launch template's instance profile), EC2 only",
    "ScaleAutoScalingGroup": "asg backend: set the group's desired capacity",
    "CountAutoScalingGroup": "asg backend: read the group's instances (no resource-level permissions)",
    "FunctionReadClips": "lambda backend: download the clip named in a job (clips/ prefix only)",
    "FunctionReadWriteResults": "lambda backend: store the result first-write-wins; read it on a duplicate",
    "FunctionSeeMissingResults": "lambda backend: 404, not 403, for a result not written yet (duplicate check)",
    "FunctionReadFrames": "frames path: read the frame whose upload started the function (frames/ prefix only)",
    "FunctionEventSource": "the event source mapping polls the jobs queue with the function's role and deletes "
    "every job not reported failed",
    "FunctionReportCompletions": "tell the controller a job finished (completion queue)",
    "FunctionAnswerFrames": "frames path: put each frame's answer on its device's answers queue",
    "FunctionReportNotReady": "lambda backend: a function that cannot load its detector says so in the workers "
    "table (one item, lambda:<function name>), so /v1/stats and the fleet page show it",
    "FunctionLogs": "write its logs to its own log group (the stack makes the group)",
    "SignFramePosts": "frames path: a presigned POST is signed with the controller's credentials, so they must "
    "allow the PutObject a Pi makes with it (frames/ prefix only)",
    "ServeFrameAnswers": "frames path: make a device's answers queue on first use, long-poll it for the Pi",
    "ReadFunctionConcurrencyCap": "/v1/stats: the function's reserved concurrency",
    "ReadEventSourceMappings": "/v1/stats: the mapping's maximum concurrency (no resource-level permissions)",
    "ReadFunctionConcurrency": "/v1/stats: Lambda's ConcurrentExecutions metric (no resource-level permissions)",
}


class _CfnLoader(yaml.SafeLoader):
    """SafeLoader that turns ``!Ref x`` into ``{"Ref": "x"}``, ``!Sub s`` into ``{"Fn::Sub": s}`` etc."""


def _construct_tag(loader: _CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(text: str | None = None) -> dict[str, Any]:
    return yaml.load(text if text is not None else template_body(), Loader=_CfnLoader)


@dataclass(frozen=True)
class Grant:
    """One statement of one role, flattened for reading."""

    role: str
    sid: str
    actions: tuple[str, ...]
    resources: tuple[Any, ...]
    condition: dict
    only_if: str | None  # the template Condition that must hold for the grant to exist

    @property
    def why(self) -> str:
        return WHY.get(self.sid, "")


def _as_tuple(value: Any) -> tuple:
    return tuple(value) if isinstance(value, list) else (value,)


def _roles_of(policy_props: dict) -> list[str]:
    return [r["Ref"] for r in policy_props.get("Roles", []) if isinstance(r, dict) and "Ref" in r]


def role_statements(template: dict[str, Any] | None = None) -> dict[str, list[Grant]]:
    """Role logical id -> every Allow/Deny statement it gets, inline or attached."""
    template = template or load_template()
    resources = template["Resources"]
    grants: dict[str, list[Grant]] = {}

    def add(role: str, document: dict, only_if: str | None) -> None:
        for st in document["Statement"]:
            grants.setdefault(role, []).append(
                Grant(
                    role=role,
                    sid=st.get("Sid", ""),
                    actions=_as_tuple(st["Action"]),
                    resources=_as_tuple(st["Resource"]),
                    condition=st.get("Condition", {}),
                    only_if=only_if,
                )
            )

    for logical_id, res in resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Role":
            grants.setdefault(logical_id, [])
            for policy in props.get("Policies", []):
                add(logical_id, policy["PolicyDocument"], res.get("Condition"))
    for _logical_id, res in resources.items():
        if res["Type"] in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            props = res["Properties"]
            for role in _roles_of(props):
                add(role, props["PolicyDocument"], res.get("Condition"))
    return grants


def describe_resource(resource: Any) -> str:
    """A readable form of a resource expression: the ARN pattern as written in the template."""
    if isinstance(resource, str):
        return resource
    if "Fn::Sub" in resource:
        sub = resource["Fn::Sub"]
        return sub if isinstance(sub, str) else sub[0]
    if "Fn::GetAtt" in resource:
        return "${" + ".".join(resource["Fn::GetAtt"]) + "}"
    if "Ref" in resource:
        return "${" + resource["Ref"] + "}"
    return str(resource)


def permission_rows(template: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """One row per role and statement: role, actions, resources, condition, why."""
    rows = []
    for role, grants in role_statements(template).items():
        for g in grants:
            cond = "; ".join(
                f"{op} {k}={describe_resource(v)}" for op, kv in g.condition.items() for k, v in kv.items()
            )
            rows.append(
                {
                    "role": role,
                    "sid": g.sid,
                    "actions": ", ".join(g.actions),
                    "resources": ", ".join(describe_resource(r) for r in g.resources),
                    "condition": (cond + (f" (only if {g.only_if})" if g.only_if else "")).strip(),
                    "why": g.why,
                }
            )
    return rows
