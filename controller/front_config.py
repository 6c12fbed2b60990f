"""nginx.conf for the front, rendered from the settings for one run of ``controller serve``.

Bodies are read by nginx, never by a gunicorn thread; what nginx cannot give is a total deadline
for a body (``client_body_timeout`` bounds each pause between reads, not the whole), so who may
send one at all is decided from the headers first. An API request is checked by the app before
its body is read (``auth_request`` to ``auth.FRONT_AUTH_PATH``): no token, a wrong one, a
throttled address or a device over its bucket is answered at once, and its body is discarded
within ``lingering_time``. One token may have ``controller.connections_per_token`` requests open
at once, one address ``controller.connections_per_address`` on the other paths: a trickling body
holds at most that many sockets per leaked token, and none for anyone without one.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

from edgecloud.config import Settings

from .app import FORM_SLACK_BYTES
from .auth import FRONT_AUTH_PATH, FRONT_HEADER, REFUSAL_BODY_HEADER, REFUSAL_STATUS_HEADER

# Each proxied request holds two connections (client and gunicorn); hundreds of slow sockets fit.
WORKER_CONNECTIONS = 4096
MAX_WORKER_PROCESSES = 4  # one per core up to this: proxying is cheap next to what gunicorn does
AUTH_LOCATION = "/.front-auth"  # internal: no client reaches it
# nginx's own refusals, in the API's JSON shape (repeated in a location with an error_page of its own).
ERROR_PAGES = (
    "        error_page 413 @too_large;\n"
    "        error_page 429 @too_many;\n"
    "        error_page 500 502 503 504 = @unavailable;\n"
)


def _address(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _var(header: str) -> str:
    return "$upstream_http_" + header.lower().replace("-", "_")


def _proxied(upstream: str, secret: str, *, checked: bool) -> str:
    """A proxy_pass to gunicorn with the client's address and scheme; ``checked``: the front's auth passed."""
    return (
        f"            proxy_pass {upstream};\n"
        "            proxy_set_header Host $http_host;\n"
        "            # Replaced, not appended to: the app trusts exactly one hop (this one).\n"
        "            proxy_set_header X-Forwarded-For $remote_addr;\n"
        "            proxy_set_header X-Real-IP $remote_addr;\n"
        "            proxy_set_header X-Forwarded-Proto $client_scheme;\n"
        f'            proxy_set_header {FRONT_HEADER} "{secret if checked else ""}";\n'
    )


def _api_location(prefix: str, upstream: str, secret: str, limit: int) -> str:
    return f"""\
        location {prefix} {{
            limit_conn per_token {limit};
            auth_request {AUTH_LOCATION};
            auth_request_set $refusal_status {_var(REFUSAL_STATUS_HEADER)};
            auth_request_set $refusal_body {_var(REFUSAL_BODY_HEADER)};
            auth_request_set $refusal_retry_after $upstream_http_retry_after;
            auth_request_set $refusal_authenticate $upstream_http_www_authenticate;
            error_page 403 = @refused;
{ERROR_PAGES}{_proxied(upstream, secret, checked=True)}        }}
"""


def render_config(
    settings: Settings,
    *,
    listen: tuple[str, int],
    upstream: tuple[str, int],
    run_dir: Path,
    secret: str = "",
    user: Optional[tuple[str, str]] = None,
) -> str:
    """nginx.conf for a front on ``listen`` proxying to gunicorn on ``upstream``; its files under ``run_dir``.
    ``secret``: sent with each request the app checked already (the app's ``behind_front`` knows it)."""
    c = settings.controller
    t = f"{c.client_timeout_s:g}s"
    max_body = int(c.max_clip_mb * 1024 * 1024) + FORM_SLACK_BYTES  # the app's own MAX_CONTENT_LENGTH
    gunicorn = f"http://{_address(upstream[0])}:{upstream[1]}"
    ssl = " ssl" if c.tls_cert else ""
    tls = (
        (
            f"        ssl_certificate {c.tls_cert.resolve()};\n"
            f"        ssl_certificate_key {c.tls_key.resolve()};\n"
            "        ssl_protocols TLSv1.2 TLSv1.3;\n"
            # Plain HTTP on the HTTPS port: close, as a TLS-only server would (no redirect built from Host).
            "        error_page 497 = @close;\n"
        )
        if c.tls_cert
        else ""
    )
    trusted = "".join(f"    set_real_ip_from {net};\n" for net in c.trusted_proxies)
    trusted_geo = "".join(f"        {net} 1;\n" for net in c.trusted_proxies)
    temp = "".join(
        f"    {kind}_temp_path {run_dir / kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    return f"""\
# Rendered by `edgecloud controller serve` from its settings for this run; edit config.yaml, not this.
daemon off;
pid {run_dir / "nginx.pid"};
# Not warn: nginx warns of every body it buffers to disk, which is the point.
error_log stderr error;
{f"user {user[0]} {user[1]};" if user else "# user: this process's own (serve does not run as root)"}
worker_processes {min(os.cpu_count() or 1, MAX_WORKER_PROCESSES)};
worker_rlimit_nofile {WORKER_CONNECTIONS * 2};
events {{
    worker_connections {WORKER_CONNECTIONS};
}}
http {{
    access_log off;  # gunicorn logs every request it answers
    server_tokens off;
{temp}
    # A client sends its whole header within this (one timer, not reset by each line), and pauses
    # no longer than this between reads of a body or of a reply; an idle keep-alive socket is closed too.
    client_header_timeout {t};
    client_body_timeout {t};
    send_timeout {t};
    keepalive_timeout {t};
    # The body of a refused request is read and dropped for at most this long in all, then the socket closes.
    lingering_time {t};
    # Bodies are read whole, to disk past a small buffer, before gunicorn sees the request.
    client_max_body_size {max_body};
    client_body_buffer_size 64k;
    proxy_request_buffering on;
    proxy_buffering on;
    # A ?wait= long poll holds the reply up to controller.max_wait_s.
    proxy_read_timeout {c.max_wait_s + 60:g}s;
    proxy_send_timeout {t};

    # Requests open at once: per bearer token on the API (no token: not counted here, refused by the
    # app's check), per address elsewhere. Counted once the header is in, before any body is read.
    limit_conn_zone $http_authorization zone=per_token:10m;
    limit_conn_zone $binary_remote_addr zone=per_address:10m;
    limit_conn_status 429;

    # A trusted proxy (controller.trusted_proxies) names the client and its scheme; no one else does.
{trusted}    real_ip_header X-Forwarded-For;
    real_ip_recursive on;
    geo $realip_remote_addr $from_trusted_proxy {{
        default 0;
{trusted_geo}    }}
    map "$from_trusted_proxy$http_x_forwarded_proto" $client_scheme {{
        default $scheme;
        1https https;
        1http http;
    }}

    server {{
        listen {_address(listen[0])}:{listen[1]}{ssl};
{tls}{_api_location("/v1/", gunicorn, secret, c.connections_per_token)}\
{_api_location("= /metrics", gunicorn, secret, c.connections_per_token)}\
        location / {{
            limit_conn per_address {c.connections_per_address};
{_proxied(gunicorn, secret, checked=False)}        }}
        # The app's check of an API request, from its headers alone: its body is not read yet.
        location = {AUTH_LOCATION} {{
            internal;
            proxy_pass {gunicorn}{FRONT_AUTH_PATH};
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $remote_addr;
            proxy_set_header X-Forwarded-Proto $client_scheme;
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Original-Method $request_method;
            proxy_set_header {FRONT_HEADER} "{secret}";
        }}
        location ^~ {FRONT_AUTH_PATH} {{
            return 404;  # the app's check answers nginx only
        }}
        # Refused by the app's check (it answers 403 with the status it means): the API's answer, as the app
        # would give it.
        location @refused {{
            default_type application/json;
            add_header Retry-After $refusal_retry_after always;
            add_header WWW-Authenticate $refusal_authenticate always;
            if ($refusal_status = 401) {{
                return 401 "$refusal_body\\n";
            }}
            if ($refusal_status = 429) {{
                return 429 "$refusal_body\\n";
            }}
            return 403 "$refusal_body\\n";
        }}
        # nginx's own refusals answer in the API's JSON shape.
{ERROR_PAGES}        location @too_large {{
            default_type application/json;
            return 413 '{{"error": "request body over {max_body} bytes"}}\\n';
        }}
        location @too_many {{
            default_type application/json;
            return 429 '{{"error": "too many requests open at once (at most {c.connections_per_token} per token, \
{c.connections_per_address} per address elsewhere)"}}\\n';
        }}
        location @unavailable {{
            default_type application/json;
            return 503 '{{"error": "controller unavailable"}}\\n';
        }}
        location @close {{
            return 444;
        }}
    }}
}}
"""
