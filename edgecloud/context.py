"""What every ``edgecloud`` subcommand gets as ``ctx.obj``, in the shared layer so that
components take their settings from it without importing the command (``edgecloud.cli``)."""

from __future__ import annotations

from functools import cached_property

import click

from .config import ConfigError, Settings, load


class Context:
    """Settings, loaded on first use from ``--config`` (or EDGECLOUD_CONFIG)."""

    def __init__(self, config_path, verbose: int = 0):
        self.config_path = config_path
        self.verbose = verbose

    @cached_property
    def settings(self) -> Settings:
        try:
            return load(self.config_path)
        except ConfigError as err:
            raise click.ClickException(str(err)) from None


# The one way a subcommand reaches its settings: ``@pass_context`` then ``obj.settings``.
pass_context = click.make_pass_decorator(Context)
