"""``edgecloud worker run [--once]``."""

from __future__ import annotations

import signal

import click

from edgecloud.context import Context, pass_context

EXIT_NOT_READY = 3  # the detector cannot load: no job was taken (systemd's Restart=on-failure tries again)


class NotReadyExit(click.ClickException):
    exit_code = EXIT_NOT_READY


@click.group()
def worker():
    """A cloud worker that processes queued clips."""


@worker.command("run")
@click.option("--once", is_flag=True, help="Exit after one job (still retires if idle first).")
@pass_context
def run(obj: Context, once: bool):
    """Long-poll the jobs queue and process clips; retire after worker.idle_timeout idle."""
    from edgecloud.aws import Aws

    from .identity import instance_id, wait_until_in_service
    from .main import NotReady, Stopped, Worker

    settings = obj.settings
    aws = Aws(settings.aws)
    me = instance_id(settings.worker)
    if me and not settings.worker.instance_id:  # an id from IMDS: on EC2, maybe headed for a warm pool
        wait_until_in_service()
    the_worker = Worker(settings, aws, instance_id=me)

    def on_signal(signum, frame):
        # With a job in hand, finish it first (a second signal hands it back); while polling, leave at once.
        the_worker.on_signal()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        the_worker.ready()  # the detector loads before the first poll, or no job is taken
        click.echo(f"worker {the_worker.processed_by} polling {settings.queues.jobs} ({the_worker.retirer!r})")
        reason = the_worker.run(once=once)
    except Stopped:  # the signal came between polls, outside run()'s own guard
        reason = "stopped"
    except NotReady as err:
        raise NotReadyExit(f"worker {the_worker.processed_by} not ready, took no job: {err}") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    click.echo(f"worker {the_worker.processed_by}: {reason} after {the_worker.tasks_done} jobs")
