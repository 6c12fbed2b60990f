"""``edgecloud edge run | stats | drain | install | simulate``."""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from pathlib import Path

import click

from edgecloud.context import Context, pass_context

log = logging.getLogger(__name__)


@click.group()
def edge():
    """The Raspberry Pi agent."""


@edge.command("run")
@pass_context
def run(obj: Context):
    """Run the agent until SIGTERM/SIGINT (systemd's ExecStart)."""
    from .agent import EdgeAgent

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    with EdgeAgent(obj.settings):
        stop.wait()
    log.info("edge agent stopped; spooled clips go out on the next start")


@edge.command("drain")
@click.option("--timeout", type=float, default=None, help="Give up after this many seconds (exit 1).")
@pass_context
def drain(obj: Context, timeout):
    """Upload what is in the spool, then exit (no camera, no sensor)."""
    from edgecloud.protocol.states import Placement

    from .agent import stats_path
    from .scheduler import History
    from .session import session_factory
    from .spool import Spool
    from .stats import StatsStore
    from .uploader import Uploader

    e = obj.settings.edge
    spool = Spool(e.spool_dir, int(e.spool_max_mb * 1_000_000))
    for entry in spool.entries(stage="new"):  # never placed: let the cloud process it
        spool.update(entry, stage="ready", placement=Placement.CLOUD)
    uploader = Uploader(
        spool,
        e.controller_url,
        timeout_s=e.upload_timeout_s,
        retry_max_s=e.retry_max_s,
        retry_base_s=min(0.5, e.retry_max_s),
        stats=StatsStore(stats_path(e)),
        history=History(),
        session_factory=session_factory(e),
    )
    with uploader:
        done = uploader.wait_drained(timeout)
    click.echo(f"uploaded {uploader.uploaded}; {len(spool)} left in {spool.root}")
    sys.exit(0 if done else 1)


@edge.command("stats")
@click.option("--json", "as_json", is_flag=True, help="JSON instead of a table.")
@pass_context
def stats(obj: Context, as_json):
    """Per clip: trigger, upload done, result stored, and where the scheduler placed it."""
    from .agent import stats_path
    from .stats import StatsStore

    path = stats_path(obj.settings.edge)
    records = StatsStore(path).records() if path.exists() else []
    if as_json:
        click.echo(json.dumps([r.to_json() for r in records], indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    def s(v):
        return "" if v is None else f"{v:.2f}"

    table = Table(title=f"edge clips ({path})")
    table.add_column("clip", no_wrap=True, min_width=35)
    for name in (
        "triggered (UTC)",
        "placement",
        "clip s",
        "trigger to upload s",
        "trigger to result s",
        "labels",
        "bytes saved",
        "video dropped",
    ):
        table.add_column(name)
    for r in records:
        table.add_row(
            r.clip_id,
            r.triggered_at.strftime("%H:%M:%S.%f")[:-3] if r.triggered_at else "",
            r.placement or "",
            s(r.recorded_s),
            s(r.trigger_to_upload_s),
            s(r.trigger_to_result_s),
            r.labels or "",
            str(r.bytes_saved or ""),
            "" if r.video_dropped_at is None else f"{r.bytes_dropped or 0} bytes",
        )
    console = Console()
    if not console.is_terminal:  # piped or logged: no terminal width to fit, keep rows whole
        console = Console(width=180)
    console.print(table)
    dropped = [r for r in records if r.video_dropped_at is not None]
    if dropped:  # the spool's overflow: never silent
        console.print(
            f"videos dropped by the spool (over edge.spool_max_mb; their records were kept): {len(dropped)}, "
            f"{sum(r.bytes_dropped or 0 for r in dropped)} bytes"
        )


@edge.command("install")
@click.option(
    "--root",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("/"),
    help="Install under this directory instead of / (packaging, tests).",
)
@click.option("--user", help="User the agent runs as (default edge.user).")
@click.option("--controller", "controller_url", help="Controller URL for the config (default edge.controller_url).")
@click.option("--dry-run", is_flag=True, help="Print what would be written and run; change nothing.")
@click.option("--force", is_flag=True, help="Overwrite an existing config.")
@click.option("--device-id", help="This Pi's device id in the config (the one its token was issued for).")
@click.option(
    "--token-file",
    type=click.File("r"),
    help="File (or - for stdin) holding the token that "
    "`edgecloud devices add` printed; installed as /etc/edgecloud/token, mode 0640 root:USER.",
)
@click.option(
    "--token",
    envvar="EDGECLOUD_DEVICE_TOKEN",
    help="The token itself (env EDGECLOUD_DEVICE_TOKEN; "
    "prefer --token-file: a command line is visible to other users).",
)
@pass_context
def install(obj: Context, root, user, controller_url, dry_run, force, device_id, token_file, token):
    """Write the systemd unit, a config and the token, create the user, enable and start the service."""
    from .install import install as do_install

    if token_file is not None:
        token = token_file.read()
    try:
        for line in do_install(
            obj.settings,
            root=root,
            user=user,
            controller_url=controller_url,
            dry_run=dry_run,
            force=force,
            token=token,
            device_id=device_id,
        ):
            click.echo(line)
    except ValueError as err:
        raise click.ClickException(str(err)) from None


@edge.command("simulate")
@click.option(
    "--video",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="Footage the simulated camera plays.",
)
@click.option("--events", type=int, default=10, show_default=True, help="Motion events in the burst.")
@click.option("--controller", "controller_url", help="Controller URL (default edge.controller_url).")
@click.option(
    "--policy",
    "policies",
    multiple=True,
    type=click.Choice(["busy-offload", "fastest-finish", "escalate-uncertain"]),
    help="Policies to run (default: all three).",
)
@click.option("--speed", type=float, default=1.0, show_default=True, help="Playback speed of the footage.")
@click.option(
    "--pi-slowdown",
    type=click.FloatRange(1, 100),
    default=1.0,
    show_default=True,
    help="Local detection, really run, takes this many times as long (edge.emulated_pi_slowdown): this "
    "machine standing in for a Pi.",
)
@click.option("--timeout", type=float, default=600, show_default=True, help="Longest wait for a burst's results.")
@click.option(
    "--repeat",
    type=click.IntRange(1, 20),
    default=1,
    show_default=True,
    help="Runs per policy (interleaved); the median is reported.",
)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write figures here.")
@pass_context
def simulate(obj: Context, video, events, controller_url, policies, speed, pi_slowdown, timeout, repeat, json_path):
    """Run each placement policy on the same burst of motion events; print finish times."""
    from .simulate import POLICY_NAMES, run_simulation

    figures = run_simulation(
        obj.settings,
        video=video,
        events=events,
        controller_url=controller_url,
        policies=list(policies) or POLICY_NAMES,
        speed=speed,
        pi_slowdown=pi_slowdown,
        timeout=timeout,
        repeat=repeat,
        echo=click.echo,
    )
    if json_path:
        json_path.write_text(json.dumps(figures, indent=2))
        click.echo(f"figures written to {json_path}")
