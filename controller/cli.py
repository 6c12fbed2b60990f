"""``edgecloud controller serve | status``."""

from __future__ import annotations

import json

import click

from edgecloud.context import Context, pass_context


@click.group()
def controller():
    """The API, autoscaler and results consumer."""


@controller.command("serve")
@click.option("--host", help="Listen address (default controller.host).")
@click.option("--port", type=int, help="Listen port; 0 picks a free one (default controller.port).")
@click.option("--ensure-resources", is_flag=True, help="Create the buckets and queues first (demo, tests).")
@click.option("--no-autoscale", is_flag=True, help="Serve and consume results, but launch no workers.")
@pass_context
def serve(obj: Context, host, port, ensure_resources, no_autoscale):
    """Run the API (gunicorn behind an nginx front) and the background loops until SIGTERM/SIGINT.

    Prints 'controller listening on http://HOST:PORT' once it takes requests.
    """
    from edgecloud.config import ConfigError

    from .front import FrontError
    from .service import serve as run_server

    settings = obj.settings
    overrides = {k: v for k, v in (("host", host), ("port", port)) if v is not None}
    if overrides:
        settings = settings.model_copy(update={"controller": settings.controller.model_copy(update=overrides)})
    try:
        run_server(settings, ensure=ensure_resources, autoscale=not no_autoscale)
    except (ConfigError, FrontError) as err:
        raise click.ClickException(str(err)) from None


@controller.command("status")
@click.option("--url", help="Controller base URL (default controller.url, else http://host:port).")
@click.option(
    "--token",
    envvar="EDGECLOUD_TOKEN",
    help="An operator's or a device's token (env EDGECLOUD_TOKEN); without one the controller answers 401.",
)
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="PEM of a private CA to trust.")
@pass_context
def status(obj: Context, url, token, ca_bundle):
    """Print a running controller's /v1/stats."""
    import requests

    from edgecloud.protocol.client import ControllerClient

    from .clips_cli import controller_url

    base = controller_url(obj.settings, url)
    try:
        reply = ControllerClient(base, token=token).stats(timeout=10, verify=ca_bundle or True)
        reply.raise_for_status()
    except requests.RequestException as err:
        raise click.ClickException(f"{base}: {err}") from None
    click.echo(json.dumps(reply.json(), indent=2))
