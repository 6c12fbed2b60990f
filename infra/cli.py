"""``edgecloud infra``: deploy, inspect and remove the AWS stack.

edgecloud infra up --stack demo --param WorkerAmiId=ami-0123...
edgecloud --config var/infra/demo.yaml controller serve
edgecloud infra down --stack demo [--force]
"""

from __future__ import annotations

import json
from pathlib import Path

import click
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from edgecloud.aws import Aws
from edgecloud.config import dump
from edgecloud.context import Context, pass_context

from .artifacts import function_code
from .deploy import Stack, StackEvent
from .params import (
    InfraError,
    complete_network,
    parse_param_overrides,
    settings_from_outputs,
    stack_parameters,
    template_body,
    template_defaults,
)
from .teardown import bucket_object_count, empty_bucket, fleet_worker_ids, terminate_fleet

stack_option = click.option("--stack", "stack_name", help="Stack name (default: infra.stack from the config).")
poll_option = click.option(
    "--poll",
    "poll_seconds",
    type=click.FloatRange(0.1, 60),
    default=5,
    show_default=True,
    help="Seconds between looks at the stack's events.",
)


def _stack(obj: Context, stack_name: str | None, poll_seconds: float = 5) -> Stack:
    return Stack(Aws(obj.settings.aws), stack_name or obj.settings.infra.stack, poll_seconds=poll_seconds)


def _watching(console: Console, title: str):
    """A spinner while CloudFormation works, printing every new stack event above it."""
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console)
    task = progress.add_task(title, total=None)

    def on_event(event: StackEvent) -> None:
        style = "red" if event.failed else "green" if event.status.endswith("_COMPLETE") else ""
        progress.console.print(f"[{style}]{event}[/]" if style else str(event), markup=bool(style), highlight=False)
        progress.update(task, description=f"{title}: {event.logical_id} {event.status}")

    return progress, on_event


def _fail(err: Exception):
    raise click.ClickException(str(err)) from None


@click.group("infra")
def infra():
    """Deploy the AWS stack (CloudFormation): buckets, queues, roles, launch template."""


@infra.command("up")
@stack_option
@click.option(
    "--param",
    "params",
    multiple=True,
    metavar="KEY=VALUE",
    help="Template parameter, e.g. WorkerAmiId=ami-0123 (repeatable; overrides the config).",
)
@click.option(
    "--config-out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the deployed config (default var/infra/<stack>.yaml).",
)
@click.option(
    "--function-zip",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="fleet.backend lambda: the zip from `edgecloud lambda package`, uploaded to an artifacts bucket.",
)
@poll_option
@pass_context
def up(obj: Context, stack_name, params, config_out, function_zip, poll_seconds):
    """Create or update the stack, wait for it, write the config that uses it."""
    console = Console(stderr=True)
    stack = _stack(obj, stack_name, poll_seconds)
    try:
        values = stack_parameters(obj.settings, stack.name) | parse_param_overrides(params)
        existing = stack.describe()
        previous = {p["ParameterKey"] for p in (existing or {}).get("Parameters", [])}
        if not {"VpcId", "SubnetIds"} <= set(values) | previous:
            values = complete_network(stack.aws, values)
        if values.get("CreateFunction") == "true":
            values |= function_code(stack.aws, stack.name, function_zip, values)
        if "WorkerAmiId" not in values and "WorkerAmiId" not in previous:
            raise InfraError(
                "no worker AMI: build one (docs/aws.md, 'Build the worker AMI') and set fleet.ami_id "
                "or pass --param WorkerAmiId=ami-..."
            )
        progress, on_event = _watching(console, f"deploying {stack.name}")
        with progress:
            outcome = stack.deploy(template_body(), values, defaults=template_defaults(), on_event=on_event)
        outputs = stack.outputs()
    except (InfraError, ClientError, BotoCoreError) as err:
        _fail(err)
    console.print(f"stack {stack.name}: {outcome} ({stack.status()})")
    path = config_out or Path("var/infra") / f"{stack.name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dump(settings_from_outputs(obj.settings, outputs, stack.name)))
    console.print(f"config written to {path} - use it with `edgecloud --config {path} ...`")
    click.echo(str(path))


@infra.command("down")
@stack_option
@click.option(
    "--force", is_flag=True, help="Delete every object version in the buckets and terminate the fleet's workers first."
)
@poll_option
@pass_context
def down(obj: Context, stack_name, force, poll_seconds):
    """Delete the stack; refuses while its buckets hold anything or workers run, unless --force."""
    console = Console(stderr=True)
    stack = _stack(obj, stack_name, poll_seconds)
    try:
        if stack.describe() is None:
            console.print(f"stack {stack.name} does not exist: nothing to do")
            return
        outputs = stack.outputs()
        buckets = [outputs[k] for k in ("ClipsBucket", "ResultsBucket") if outputs.get(k)]
        counts = {b: bucket_object_count(stack.aws, b) for b in buckets}
        full = {b: n for b, n in counts.items() if n}
        if full and not force:
            listing = ", ".join(f"{b} ({n} objects)" for b, n in full.items())
            raise InfraError(
                f"refusing to delete stack {stack.name}: buckets not empty: {listing}. "
                "Copy what you need, then run again with --force to delete every object version."
            )
        workers = fleet_worker_ids(stack.aws, outputs["FleetName"]) if outputs.get("FleetName") else []
        if workers and not force:
            raise InfraError(
                f"refusing to delete stack {stack.name}: {len(workers)} worker(s) still up "
                f"({', '.join(workers)}). Wait for them to retire, or run again with --force "
                "to terminate them."
            )
        for bucket in full:
            console.print(f"emptying {bucket}: {empty_bucket(stack.aws, bucket)} object versions deleted")
        if workers:
            console.print(f"terminating {len(workers)} worker(s): {', '.join(workers)}")
            terminate_fleet(stack.aws, workers)
        progress, on_event = _watching(console, f"deleting {stack.name}")
        with progress:
            stack.delete(on_event=on_event)
    except (InfraError, ClientError, BotoCoreError) as err:
        _fail(err)
    console.print(f"stack {stack.name} deleted")


@infra.command("status")
@stack_option
@pass_context
def status(obj: Context, stack_name):
    """The stack's status and its resources."""
    stack = _stack(obj, stack_name)
    info = stack.describe()
    if info is None:
        raise click.ClickException(f"stack {stack.name} does not exist")
    console = Console()
    reason = f" - {info['StackStatusReason']}" if info.get("StackStatusReason") else ""
    console.print(f"stack {stack.name}: {info['StackStatus']}{reason}")
    table = Table()
    for column in ("resource", "type", "status", "physical id"):
        table.add_column(column, overflow="fold")  # ids in full, wrapped, never cut
    for r in stack.resources():
        table.add_row(
            r["LogicalResourceId"],
            r.get("ResourceType", ""),
            r.get("ResourceStatus", ""),
            r.get("PhysicalResourceId", ""),
        )
    console.print(table)


@infra.command("outputs")
@stack_option
@click.option("--json", "as_json", is_flag=True, help="Print the outputs as a JSON object.")
@pass_context
def outputs(obj: Context, stack_name, as_json):
    """The stack's outputs: bucket, queue and fleet names."""
    try:
        values = _stack(obj, stack_name).outputs()
    except InfraError as err:
        _fail(err)
    if as_json:
        click.echo(json.dumps(values, indent=2, sort_keys=True))
        return
    table = Table()
    for column in ("output", "value"):
        table.add_column(column, overflow="fold")
    for key, value in sorted(values.items()):
        table.add_row(key, value)
    Console().print(table)


@infra.command("permissions")
@click.option("--json", "as_json", is_flag=True, help="Print the rows as JSON.")
def permissions(as_json):
    """Every IAM permission each role gets from the template, and why."""
    from .policies import permission_rows

    rows = permission_rows()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    table = Table(show_lines=True)
    for column in ("role", "actions", "resources", "condition", "why"):
        table.add_column(column, overflow="fold")
    for r in rows:
        table.add_row(r["role"], r["actions"], r["resources"], r["condition"], r["why"])
    Console().print(table)


@infra.command("k8s")
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the manifests to (made if missing; our files in it are replaced).",
)
@click.option("--account-id", help="AWS account of the queue, role and image [asked of STS].")
@click.option("--namespace", default="edgecloud", show_default=True, help="Kubernetes namespace.")
@click.option("--image", help="Worker image [<account>.dkr.ecr.<region>.amazonaws.com/edgecloud-worker:<version>].")
@click.option("--role-name", help="IAM role of the worker's ServiceAccount [<infra.stack>-k8s-worker].")
@pass_context
def k8s(obj: Context, out_dir: Path, account_id, namespace, image, role_name):
    """The worker on Kubernetes from the settings: ConfigMap, ServiceAccount (IRSA),
    Deployment, and KEDA's aws-sqs-queue ScaledObject with its TriggerAuthentication."""
    from .kubernetes import ManifestError, Target, render

    try:
        if account_id is None:
            account_id = Aws(obj.settings.aws).client("sts").get_caller_identity()["Account"]
        files = render(obj.settings, Target(account_id, namespace, image, role_name))
    except (ClientError, BotoCoreError) as err:
        raise click.ClickException(f"cannot ask STS for the account ({err}); give --account-id") from None
    except ManifestError as err:
        _fail(err)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out_dir / name).write_text(text)
        click.echo(str(out_dir / name))
