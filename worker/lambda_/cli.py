"""``edgecloud lambda``: build the function's deployment zip; run it here against the configured queues."""

from __future__ import annotations

import json
import logging
import signal
import threading
from pathlib import Path

import click

from edgecloud.context import Context, pass_context

from .package import LAMBDA_PYTHON, PackageError, build

log = logging.getLogger(__name__)


@click.group("lambda")
def lambda_group():
    """The worker as an AWS Lambda function."""


@lambda_group.command("package")
@click.option(
    "--out",
    "out",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the deployment zip.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write {zip, handler, unzipped_mb, zipped_mb} here.",
)
@click.option(
    "--python-version",
    default=LAMBDA_PYTHON,
    show_default=True,
    help="Python of the runtime the wheels are for (Lambda's python3.12; the local emulation needs "
    "this machine's, e.g. 3.11).",
)
@click.option(
    "--cache",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/lambda/wheels"),
    show_default=True,
    help="Downloaded wheels, kept for the next build.",
)
def package(out, json_path, python_version, cache):
    """Build the deployment zip from manylinux wheels (fails naming the largest parts if over 250 MB)."""
    try:
        built = build(out, python_version=python_version, cache=cache)
    except PackageError as err:
        raise click.ClickException(str(err)) from None
    click.echo(
        f"{built.zip}: {built.zipped_mb} MB zipped, {built.unzipped_mb} MB unzipped "
        f"(limit 250), handler {built.handler}, Python {built.python_version}"
    )
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(built.as_json(), indent=2) + "\n")


@lambda_group.command("run")
@click.option(
    "--zip",
    "zip_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Deployment zip built for this machine's Python [function.package].",
)
@click.option(
    "--workdir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("var/lambda/run"),
    show_default=True,
    help="Unpacked zip and the environments' logs.",
)
@click.option(
    "--frames/--no-frames",
    default=True,
    show_default=True,
    help="Also answer frames (the frames bucket's notification, through a queue).",
)
@pass_context
def run(obj: Context, zip_path, workdir, frames):
    """Emulate the function and its event sources here until Ctrl-C (needs an embedded AWS:
    moto cannot invoke functions without Docker)."""
    from .local import LocalDeployment

    settings = obj.settings
    zip_path = zip_path or settings.function.package
    if not Path(zip_path).is_file():
        raise click.ClickException(
            f"no deployment zip at {zip_path}; build one with "
            "`edgecloud lambda package --out ZIP --python-version 3.11` (this machine's Python)"
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with LocalDeployment(settings, Path(zip_path), workdir, frames=frames):
        click.echo(f"function {settings.function.name} polling {settings.queues.jobs}; Ctrl-C stops", err=True)
        try:
            stop.wait()
        except KeyboardInterrupt:
            pass
