"""``edgecloud devices add|list|revoke`` and ``edgecloud operators add|list|revoke``.

Both groups come from one factory over ``edgecloud.credentials.Registry``: a
token is printed once, at ``add``, and only its hash is kept. They run with
the caller's AWS credentials against the table in ``tables.credentials``.
"""

from __future__ import annotations

import json

import click

from edgecloud.context import Context, pass_context
from edgecloud.credentials import CredentialError, Kind


def _registry(settings):
    from edgecloud.aws import Aws
    from edgecloud.credentials import Registry

    return Registry(Aws(settings.aws), settings.tables.credentials)


def credentials_group(kind: Kind, plural: str, name_field: str, metavar: str, who: str) -> click.Group:
    """The add / list / revoke group for one kind of credential."""

    @click.group(plural, help=f"Tokens of {who}.")
    def group():
        pass

    @group.command("add")
    @click.argument("name", metavar=metavar)
    @click.option("--json", "as_json", is_flag=True, help=f'Print {{"{name_field}": ..., "token": ...}}.')
    @pass_context
    def add(obj: Context, name, as_json):
        """Create the credential and print its token (shown this once)."""
        try:
            token = _registry(obj.settings).add(kind, name)
        except CredentialError as err:
            raise click.ClickException(str(err)) from None
        if as_json:
            click.echo(json.dumps({name_field: name, "token": token}))
        else:
            click.echo(f"{kind} {name}: token {token}")
            click.echo("Keep it now: only its hash is stored, so it cannot be shown again.", err=True)

    @group.command("list")
    @click.option("--json", "as_json", is_flag=True, help="JSON instead of lines.")
    @pass_context
    def list_(obj: Context, as_json):
        """Every credential of this kind and when it was made (never a token)."""
        rows = _registry(obj.settings).list(kind)
        if as_json:
            click.echo(json.dumps([{name_field: r["name"], "created_at": r["created_at"]} for r in rows]))
            return
        for row in rows:
            click.echo(f"{row['name']}\t{row['created_at']}")

    @group.command("revoke")
    @click.argument("name", metavar=metavar)
    @pass_context
    def revoke(obj: Context, name):
        """Delete the credential: every controller refuses its token within controller.token_cache_s, and an
        operator's dashboard sessions end at their next request."""
        try:
            _registry(obj.settings).revoke(kind, name)
        except CredentialError as err:
            raise click.ClickException(str(err)) from None
        click.echo(f"revoked {kind} {name}")

    return group


devices = credentials_group(
    "device", "devices", "device_id", "DEVICE_ID", "Raspberry Pis (upload, read their own clips)"
)
operators = credentials_group("operator", "operators", "name", "NAME", "people who read everything")
