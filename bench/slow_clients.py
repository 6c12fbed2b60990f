"""Slow clients: a good device uploads while slow sockets trickle requests, measured in one run.

The sockets themselves are :mod:`.slow_sockets`; this is the measure of a front against them. The
figures: the good device's upload latency without and then with the slow sockets, how many slow
sockets were open while it uploaded (the fault happened), how long the server let each closed one
live (against ``client_timeout_s``), what it answered before closing (``refused``: status -> count),
and how many were never closed: open at the end and open since the start (``held_whole_hold``).
nginx has no total deadline for a body: body tricklers whose token passed its check stay open (at
most ``connections_per_token`` per token); the figures say how many did.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Optional

import click
import numpy as np

from edgecloud.aws import Aws
from edgecloud.config import load
from edgecloud.localcloud import ControllerProcess, EmbeddedAws, issue_credentials, local_cloud_settings
from edgecloud.protocol.client import ControllerClient
from edgecloud.provision import ensure_resources

from .slow_sockets import SlowSockets
from .upload import upload_once

# Past client_timeout_s the front closes a trickler; this covers its timer's granularity and our latency.
CLOSE_MARGIN_S = 5


def _ms(values: list[float], q: float) -> Optional[float]:
    return round(float(np.percentile(values, q)) * 1000, 1) if values else None


def _paced_uploads(
    url: str,
    clip: bytes,
    device_id: str,
    token: str,
    *,
    every_s: float,
    until=None,
    count=None,
    during: Optional[SlowSockets] = None,
) -> dict:
    """Upload ``count`` clips (or until ``until``), one every ``every_s``; p50/p99 of the good ones."""
    results, slow_open = [], []
    with ControllerClient(url, token=token) as controller:
        next_at = time.monotonic()
        while (count is None or len(results) < count) and (until is None or time.monotonic() < until):
            time.sleep(max(0.0, next_at - time.monotonic()))  # pacing, so the device stays within its quota
            next_at += every_s
            if during is not None:
                slow_open.append(during.open_count())
            ok, seconds, _ = upload_once(controller, clip, device_id)
            results.append((ok, seconds))
    good = [s for ok, s in results if ok]
    figures = {
        "uploads": len(results),
        "ok": len(good),
        "p50_ms": _ms(good, 50),
        "p99_ms": _ms(good, 99),
        "max_ms": _ms(good, 100),
    }
    if during is not None:
        figures["slow_sockets_open_min"] = min(slow_open, default=0)  # while each upload started
    return figures


def measure_slow_clients(
    base_url: str,
    device_token: str,
    clip: Path,
    *,
    device_id: str = "pi-01",
    header_sockets: int = 200,
    body_sockets: int = 50,
    hold_s: float = 60,
    uploads: int = 10,
    upload_every_s: float = 2.0,
    trickle_every_s: float = 2.0,
    client_timeout_s: float = 30,
    body_token: Optional[str] = None,
) -> dict:
    """A good device's uploads without, then with, slow sockets held ``hold_s``, in one run.

    ``device_token`` is ``device_id``'s, for the good uploads; the body tricklers carry ``body_token``
    (another device's, leaked), else the same. ``client_timeout_s``: the controller's setting, to
    judge whether it closed the tricklers in time."""
    body = Path(clip).read_bytes()
    warmup = _paced_uploads(base_url, body, device_id, device_token, every_s=0, count=1)  # first-request costs
    without = _paced_uploads(base_url, body, device_id, device_token, every_s=upload_every_s, count=uploads)
    started = time.monotonic()
    with SlowSockets(
        base_url,
        headers=header_sockets,
        bodies=body_sockets,
        device_token=body_token or device_token,
        every_s=trickle_every_s,
    ) as slow:
        opened_s = time.monotonic() - started
        with_slow = _paced_uploads(
            base_url, body, device_id, device_token, every_s=upload_every_s, until=started + hold_s, during=slow
        )
        open_at_end = {kind: slow.open_count(kind) for kind in ("header", "body")}
        held = {kind: slow.open_since(kind, started + opened_s) for kind in ("header", "body")}
    in_time = client_timeout_s + CLOSE_MARGIN_S
    closed = {
        kind: {
            "closed": len(lives),
            "closed_within_timeout": sum(1 for s in lives if s <= in_time),
            "lived_p50_s": round(float(np.median(lives)), 1) if lives else None,
            "lived_max_s": round(max(lives), 1) if lives else None,
            "refused": dict(sorted(slow.refused[kind].items())),
            "open_at_end": open_at_end[kind],
            "held_whole_hold": held[kind],
        }
        for kind, lives in slow.lifetimes.items()
    }
    return {
        "header_sockets": header_sockets,
        "body_sockets": body_sockets,
        "hold_s": hold_s,
        "trickle_every_s": trickle_every_s,
        "client_timeout_s": client_timeout_s,
        "clip_bytes": len(body),
        "slow_sockets_opened_in_s": round(opened_s, 2),
        "failed_connects": slow.failed_connects,
        "warmup_ms": warmup["max_ms"],
        "without_slow_sockets": without,
        "with_slow_sockets": with_slow,
        "header_tricklers": closed["header"],
        "body_tricklers": closed["body"],
    }


@click.command()
@click.option(
    "--clip",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The clip the good device uploads (e.g. vtest-5s.mp4).",
)
@click.option("--header-sockets", type=int, default=200, show_default=True)
@click.option("--body-sockets", type=int, default=50, show_default=True)
@click.option("--hold-s", type=float, default=60, show_default=True)
@click.option("--json", "json_path", type=click.Path(dir_okay=False, path_type=Path), help="Write the figures here.")
def main(clip, header_sockets, body_sockets, hold_s, json_path):
    """`controller serve` on embedded AWS (its own process; settings from EDGECLOUD_CONFIG and the
    environment), then measure_slow_clients against it."""
    with tempfile.TemporaryDirectory(prefix="edgecloud-slow-") as tmp, EmbeddedAws(own_process=True) as moto:
        s = local_cloud_settings(load(), workdir=Path(tmp), endpoint_url=moto.endpoint_url, idle_timeout=10)
        s.autoscaler.max_workers = 0  # uploads only
        ensure_resources(Aws(s.aws), s)
        tokens = issue_credentials(s, ["pi-01", "leaked-01"])
        with ControllerProcess(s, Path(tmp)) as controller:
            report = measure_slow_clients(
                controller.url,
                tokens["pi-01"],
                clip,
                header_sockets=header_sockets,
                body_sockets=body_sockets,
                hold_s=hold_s,
                body_token=tokens["leaked-01"],
                client_timeout_s=s.controller.client_timeout_s,
            )
    text = json.dumps(report, indent=2)
    print(text)
    if json_path:
        json_path.write_text(text)


if __name__ == "__main__":
    main()
