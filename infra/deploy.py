"""Create, update, watch and remove the edgecloud CloudFormation stack.

``Stack`` wraps one stack: ``deploy`` creates it or updates it in place
("No updates are to be performed" is success, not an error), ``wait`` polls
the stack's events and hands each new one to a callback until the stack
settles, and a failure raises ``InfraError`` naming every failed resource and
CloudFormation's reason. Emptying buckets and ending workers before a delete
is teardown.py's job.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterable, Optional

from botocore.exceptions import ClientError

from edgecloud.aws import Aws

from .params import InfraError

DONE = {"CREATE_COMPLETE", "UPDATE_COMPLETE", "DELETE_COMPLETE", "IMPORT_COMPLETE"}
# Settled states that mean the last operation did not do what was asked.
FAILED = {
    "CREATE_FAILED",
    "DELETE_FAILED",
    "UPDATE_FAILED",
    "ROLLBACK_COMPLETE",
    "ROLLBACK_FAILED",
    "UPDATE_ROLLBACK_COMPLETE",
    "UPDATE_ROLLBACK_FAILED",
    "IMPORT_ROLLBACK_COMPLETE",
    "IMPORT_ROLLBACK_FAILED",
}
CAPABILITIES = ["CAPABILITY_IAM"]  # the template creates roles, with generated names


@dataclass(frozen=True)
class StackEvent:
    """One line of the stack's history, as CloudFormation reports it."""

    event_id: str
    time: datetime
    logical_id: str
    resource_type: str
    status: str
    reason: str

    @property
    def failed(self) -> bool:
        return self.status.endswith("_FAILED")

    def __str__(self) -> str:
        reason = f" - {self.reason}" if self.reason else ""
        return f"{self.time:%H:%M:%S} {self.status:<28} {self.logical_id} ({self.resource_type}){reason}"


EventCallback = Callable[[StackEvent], None]


def _not_found(err: ClientError) -> bool:
    return "does not exist" in str(err)


class Stack:
    """One CloudFormation stack by name."""

    def __init__(self, aws: Aws, name: str, *, poll_seconds: float = 5.0):
        self.aws = aws
        self.name = name
        self.poll_seconds = poll_seconds
        self._cfn = aws.cloudformation

    def __repr__(self) -> str:
        return f"<Stack {self.name} via {self.aws!r}>"

    # ----------------------------------------------------------------- reading
    def describe(self, stack_id: Optional[str] = None) -> Optional[dict]:
        try:
            return self._cfn.describe_stacks(StackName=stack_id or self.name)["Stacks"][0]
        except ClientError as err:
            if _not_found(err):
                return None
            raise

    def status(self) -> Optional[str]:
        stack = self.describe()
        return stack["StackStatus"] if stack else None

    def require(self) -> dict:
        stack = self.describe()
        if stack is None:
            raise InfraError(f"stack {self.name} does not exist (run `edgecloud infra up --stack {self.name}`)")
        return stack

    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.require().get("Outputs", [])}

    def parameters(self) -> dict[str, str]:
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in self.require().get("Parameters", [])}

    def resources(self) -> list[dict]:
        reply = self._cfn.describe_stack_resources(StackName=self.name)["StackResources"]
        # Resources CloudFormation does not track (moto skips some types) come back without an id.
        return [r for r in reply if r.get("LogicalResourceId")]

    def events(self, stack_id: Optional[str] = None) -> list[StackEvent]:
        """Every event of the stack, oldest first."""
        found = []
        for page in self._cfn.get_paginator("describe_stack_events").paginate(StackName=stack_id or self.name):
            for e in page["StackEvents"]:
                found.append(
                    StackEvent(
                        event_id=e["EventId"],
                        time=e["Timestamp"],
                        logical_id=e.get("LogicalResourceId", ""),
                        resource_type=e.get("ResourceType", ""),
                        status=e.get("ResourceStatus", ""),
                        reason=e.get("ResourceStatusReason", "") or "",
                    )
                )
        return sorted(found, key=lambda ev: ev.time)

    # ----------------------------------------------------------------- writing
    def deploy(
        self,
        template: str,
        params: dict[str, str],
        *,
        defaults: dict[str, str] | None = None,
        on_event: EventCallback | None = None,
        timeout: float = 3600,
    ) -> str:
        """Create or update; returns "created", "updated" or "unchanged". Raises InfraError on failure.

        Parameters equal to the template's ``defaults`` are left out, so an unchanged
        deployment sends the same parameter set every time.
        """
        stack = self.describe()
        if stack and stack["StackStatus"] == "ROLLBACK_COMPLETE":
            # A create that rolled back leaves a stack that can only be deleted.
            self.delete(on_event=on_event, timeout=timeout)
            stack = None
        seen = {e.event_id for e in self.events(stack["StackId"])} if stack else set()
        if stack is None:
            reply = self._cfn.create_stack(
                StackName=self.name,
                TemplateBody=template,
                Capabilities=CAPABILITIES,
                Parameters=self._parameter_list(params, previous=None, defaults=defaults),
                Tags=[{"Key": "edgecloud:stack", "Value": self.name}],
            )
            self.wait(reply["StackId"], on_event=on_event, seen=seen, timeout=timeout)
            return "created"
        try:
            self._cfn.update_stack(
                StackName=self.name,
                TemplateBody=template,
                Capabilities=CAPABILITIES,
                Parameters=self._parameter_list(params, previous=stack, defaults=defaults),
            )
        except ClientError as err:
            if "No updates are to be performed" in str(err):
                return "unchanged"
            raise InfraError(f"update of stack {self.name} refused: {err}") from None
        self.wait(stack["StackId"], on_event=on_event, seen=seen, timeout=timeout)
        return "updated"

    def delete(self, *, on_event: EventCallback | None = None, timeout: float = 3600) -> None:
        stack = self.describe()
        if stack is None:
            return
        seen = {e.event_id for e in self.events(stack["StackId"])}
        self._cfn.delete_stack(StackName=stack["StackId"])
        self.wait(stack["StackId"], on_event=on_event, seen=seen, timeout=timeout)

    def wait(
        self,
        stack_id: str,
        *,
        on_event: EventCallback | None = None,
        seen: set[str] | None = None,
        timeout: float = 3600,
    ) -> str:
        """Poll until the stack settles, reporting new events; the final status, or InfraError."""
        seen = set(seen or ())
        new_events: list[StackEvent] = []
        deadline = time.monotonic() + timeout
        while True:
            stack = self.describe(stack_id)
            for event in self.events(stack_id) if stack else []:
                if event.event_id not in seen:
                    seen.add(event.event_id)
                    new_events.append(event)
                    if on_event:
                        on_event(event)
            status = stack["StackStatus"] if stack else "DELETE_COMPLETE"
            if status in DONE:
                return status
            if status in FAILED:
                raise InfraError(failure_message(self.name, status, stack.get("StackStatusReason"), new_events))
            if time.monotonic() > deadline:
                raise InfraError(f"stack {self.name} still {status} after {timeout:.0f} s")
            time.sleep(self.poll_seconds)

    @staticmethod
    def _parameter_list(
        params: dict[str, str], previous: Optional[dict], defaults: dict[str, str] | None = None
    ) -> list[dict]:
        values = dict(params)
        # On update, parameters not given keep the value the stack already has. Passed as values,
        # not UsePreviousValue: same effect (no NoEcho parameters here), and moto understands it.
        for p in (previous or {}).get("Parameters", []):
            values.setdefault(p["ParameterKey"], p.get("ParameterValue", ""))
        defaults = defaults or {}
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in sorted(values.items()) if defaults.get(k) != v]


def failure_message(name: str, status: str, reason: Optional[str], events: Iterable[StackEvent]) -> str:
    lines = [f"stack {name} ended {status}" + (f": {reason}" if reason else "")]
    lines += [
        f"  {e.logical_id} ({e.resource_type}) {e.status}: {e.reason or 'no reason given'}" for e in events if e.failed
    ]
    return "\n".join(lines)
