"""The ``edgecloud`` command. Subcommands live beside the code they run and
are imported only when called, so ``edgecloud edge`` on a Pi never imports
torch, and a broken optional backend cannot break unrelated commands."""

from __future__ import annotations

import importlib
import logging

import click

from . import __version__
from .config import ConfigError, load
from .context import Context, pass_context

# name -> ("module:attribute" of a click command or group, one-line help).
SUBCOMMANDS = {
    "demo": ("edgecloud.wiring.demo:demo", "Whole pipeline end to end on embedded AWS."),
    "edge": ("edgecloud.edge.cli:edge", "The Raspberry Pi agent."),
    "controller": ("edgecloud.controller.cli:controller", "The API, autoscaler and results consumer."),
    "devices": ("edgecloud.controller.credentials_cli:devices", "Device tokens: add, list, revoke."),
    "operators": ("edgecloud.controller.credentials_cli:operators", "Operator tokens: add, list, revoke."),
    "clips": ("edgecloud.controller.clips_cli:clips", "Clips in the cloud: send failed ones through again."),
    "worker": ("edgecloud.worker.cli:worker", "A cloud worker that processes queued clips."),
    "simulate": ("edgecloud.controller.simulate.cli:simulate", "Compare autoscaling policies on a trace."),
    "lambda": ("edgecloud.worker.lambda_.cli:lambda_group", "The worker as an AWS Lambda function: package, run here."),
    "infra": ("edgecloud.infra.cli:infra", "Deploy the AWS stack (CloudFormation)."),
    "bench": ("edgecloud.bench.cli:bench", "Benchmarks, each measured side by side."),
    "eval": ("edgecloud.bench.evaluate:evaluate", "Accuracy / speed trade-off of detectors."),
    "config": ("edgecloud.cli:config_group", "Inspect settings."),
    "detect": ("edgecloud.detect.cli:detect", "Run a detector on images and videos."),
    "models": ("edgecloud.detect.cli:models", "Fetch and check detector weights."),
    "faces": ("edgecloud.detect.faces_cli:faces", "Enrol, list and forget people the faces detector names."),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx):
        return sorted(SUBCOMMANDS)

    def get_command(self, ctx, name):
        if name not in SUBCOMMANDS:
            return None
        module, attr = SUBCOMMANDS[name][0].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx, formatter):
        # Listing must not import every subcommand's dependencies.
        with formatter.section("Commands"):
            formatter.write_dl([(name, SUBCOMMANDS[name][1]) for name in self.list_commands(ctx)])


@click.group(cls=LazyGroup)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="EDGECLOUD_CONFIG",
    help="config.yaml to use (env EDGECLOUD_CONFIG).",
)
@click.option("-v", "--verbose", count=True, help="More logging (-vv for debug).")
@click.version_option(__version__, prog_name="edgecloud")
@click.pass_context
def cli(ctx, config_path, verbose):
    """Edge-to-cloud video inference: Pi agent, controller, autoscaled workers."""
    logging.basicConfig(
        level=logging.WARNING - 10 * min(verbose, 2) if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    ctx.obj = Context(config_path, verbose)


@click.group("config")
def config_group():
    """Inspect settings."""


@config_group.command("show")
@pass_context
def config_show(obj: Context):
    """Print the effective settings (file + environment) as YAML."""
    from .config import dump

    click.echo(dump(obj.settings), nl=False)


@config_group.command("defaults")
def config_defaults():
    """Print every setting with its default and meaning (the source of config.yaml)."""
    from .config import documented_yaml

    click.echo(documented_yaml(), nl=False)


@config_group.command("check")
@click.argument("path", type=click.Path(dir_okay=False))
def config_check(path):
    """Validate a config file; exit 1 naming the bad key."""
    try:
        load(path)
    except ConfigError as err:
        raise click.ClickException(str(err)) from None
    click.echo(f"{path}: ok")


def main():
    cli(prog_name="edgecloud")


if __name__ == "__main__":
    main()
