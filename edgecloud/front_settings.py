"""The ``controller:`` settings of its nginx front (``controller/front.py``, ``front_config.py``).

``ControllerSettings`` (``controller_settings.py``) takes these fields from ``FrontSettings``; in
``config.yaml`` they are ``controller.*`` like the rest.
"""

from __future__ import annotations

from pydantic import Field, IPvAnyNetwork

from .sections import Section


class FrontSettings(Section):
    client_timeout_s: float = Field(
        30,
        ge=1,
        le=600,
        description="A client sends a whole request header within "
        "this, and pauses no longer between reads of a body; past it nginx (the "
        "front) closes the socket.",
    )
    nginx: str = Field(
        "nginx",
        description="The nginx executable of the buffering front `controller serve` runs "
        "(a name on PATH or /usr/sbin, or a path); Debian: apt-get install nginx.",
    )
    trusted_proxies: list[IPvAnyNetwork] = Field(
        default_factory=list,
        description="Networks of the proxies in "
        "front of nginx (a load balancer) whose X-Forwarded-For and "
        "-Proto it believes; empty: the peer is the client.",
    )
    connections_per_token: int = Field(
        8,
        ge=1,
        le=10_000,
        description="API requests one token may have open at "
        "once through nginx, counted before a body is read; past it 429.",
    )
    connections_per_address: int = Field(
        32,
        ge=1,
        le=10_000,
        description="Requests one address may have open "
        "at once on paths without a bearer token (dashboard); past it 429.",
    )
