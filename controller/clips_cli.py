"""``edgecloud clips retry``: an operator sends failed clips through again, by the API.

Through the controller (``POST /v1/clips/retry``), not straight into the ledger and the
queue: the controller holds the ledger (SQLite is one controller's file), the route
checks the operator's token as every route does, and so one rule decides what is
re-queued wherever the command runs.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Optional

import click

from edgecloud.clock import parse_utc, utcnow
from edgecloud.context import Context, pass_context

_AGO = re.compile(r"(\d+)\s*([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def controller_url(settings, url: Optional[str]) -> str:
    """``url``, else controller.url, else this host's listening address."""
    c = settings.controller
    return (url or c.url or f"{'https' if c.tls_cert else 'http'}://{c.host}:{c.port}").rstrip("/")


def parse_since(text: Optional[str]) -> Optional[datetime]:
    """``2026-12-03``, ``2026-12-03T10:00:00Z`` (no zone: UTC), or an age: ``90m``, ``2h``, ``1d``."""
    if not text:
        return None
    ago = _AGO.fullmatch(text.strip())
    if ago:
        return utcnow() - timedelta(**{_UNITS[ago[2]]: int(ago[1])})
    try:
        return parse_utc(text.strip())
    except ValueError:
        raise click.BadParameter(f"{text!r} is neither an ISO 8601 time nor an age like 2h") from None


@click.group()
def clips():
    """Clips in the cloud: send failed ones through again."""


@clips.command("retry")
@click.option(
    "--status", type=click.Choice(["failed"]), default="failed", show_default=True, help="Which clips go again."
)
@click.option("--device", help="Only this device's clips.")
@click.option("--since", help="Only clips submitted since: an ISO 8601 time (no zone: UTC) or an age (90m, 2h, 1d).")
@click.option("--json", "as_json", is_flag=True, help='Print {"requeued": N, "clip_ids": [...]}.')
@click.option("--url", help="Controller base URL (default controller.url, else http://host:port).")
@click.option(
    "--token",
    envvar="EDGECLOUD_TOKEN",
    required=True,
    help="An operator's token (env EDGECLOUD_TOKEN); a device's is refused (403).",
)
@click.option("--ca-bundle", type=click.Path(exists=True, dir_okay=False), help="PEM of a private CA to trust.")
@pass_context
def retry(obj: Context, status, device, since, as_json, url, token, ca_bundle):
    """Re-queue clips that failed for a reason that was not theirs (a worker with no model, an outage).

    Idempotent: a clip already re-queued and not yet final is not queued again."""
    import requests

    from edgecloud.protocol.client import ControllerClient

    base = controller_url(obj.settings, url)
    body = {"status": status, "device": device, "since": (when := parse_since(since)) and when.isoformat()}
    try:
        reply = ControllerClient(base, token=token).retry(body, verify=ca_bundle or True)
    except requests.RequestException as err:
        raise click.ClickException(f"{base}: {err}") from None
    if not reply.ok:
        try:
            why = reply.json()["error"]
        except (ValueError, KeyError, TypeError):
            why = reply.reason
        raise click.ClickException(f"{base}: {reply.status_code} {why}")
    answer = reply.json()
    if as_json:
        click.echo(json.dumps(answer))
        return
    click.echo(f"re-queued {answer['requeued']} clip(s)")
    for clip_id in answer["clip_ids"]:
        click.echo(f"  {clip_id}")
