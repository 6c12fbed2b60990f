"""The web dashboard, served by the controller at ``/`` behind an operator login.

Pages: events (``/events``, the landing page: ``/`` leads there) and one event (``/events/<id>``,
controller/dashboard/event_views.py), recent clips (``/clips``), one clip (``/clips/<id>``), fleet and queue
(``/fleet``), devices (``/devices``); snapshots at stable, cached addresses
(``/snapshots/<id>.jpg``, controller/dashboard/media.py). Server-rendered Jinja templates and one
small plain-JavaScript file that refreshes marked parts of a page every few
seconds from HTML fragments: nothing to build, nothing to install.

Security headers come from flask-talisman: a CSP that allows only the
dashboard's own scripts, styles and fetches, and images and video from the S3
origins its presigned links point at; ``X-Frame-Options: DENY``; nosniff;
``Referrer-Policy: same-origin``. It never redirects plain HTTP (a controller
on a laptop serves it), and HSTS goes out only on HTTPS responses.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Flask
from flask_talisman import Talisman

from edgecloud.config import Settings

from ..resources import resources
from . import event_views, media  # noqa: F401  (their routes join the blueprint)
from .sessions import DashboardSessions
from .views import bp


def content_policy(media_origins: list[str]) -> dict:
    allowed = ["'self'", *media_origins]
    return {
        "default-src": "'self'",
        "img-src": allowed,
        "media-src": allowed,
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'self'",
        "frame-ancestors": "'none'",
    }


def s3_origins(app: Flask) -> list[str]:
    """Where presigned links point (signing is local: no call to AWS)."""
    store = resources(app).store
    links = (store.link(bucket, "x") for bucket in (store.clips_bucket, store.results_bucket))
    return sorted({f"{p.scheme}://{p.netloc}" for p in map(urlsplit, links)})


def init_dashboard(app: Flask, settings: Settings) -> None:
    if settings.controller.secret_key:
        app.secret_key = settings.controller.secret_key
    talisman = Talisman(
        app,
        force_https=False,
        session_cookie_secure=False,
        frame_options="DENY",
        referrer_policy="same-origin",
        content_security_policy=content_policy([]),
        strict_transport_security_include_subdomains=False,
    )
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="edgecloud_session",
        SESSION_REFRESH_EACH_REQUEST=False,
        PERMANENT_SESSION_LIFETIME=int(settings.controller.session_hours * 3600),
    )
    app.session_interface = DashboardSessions(app, settings)

    @app.before_request
    def _allow_media_from_s3():
        if not talisman.content_security_policy["img-src"][1:]:  # once: the store is made lazily
            talisman.content_security_policy = content_policy(s3_origins(app))

    app.register_blueprint(bp)
