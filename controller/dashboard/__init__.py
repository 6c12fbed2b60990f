"""The web dashboard, served by the controller at ``/`` behind an operator login.

Pages: recent clips (``/``), one clip (``/clips/<id>``), fleet and queue
(``/fleet``), devices (``/devices``). Server-rendered Jinja templates and one
small plain-JavaScript file that refreshes marked parts of a page every few
seconds from HTML fragments: nothing to build, nothing to install.
"""
from __future__ import annotations

from flask import Flask

from edgecloud.config import Settings

from .auth import SharedKeySessions
from .views import bp


def init_dashboard(app: Flask, settings: Settings) -> None:
    app.session_interface = SharedKeySessions()
    if settings.controller.secret_key:
        app.secret_key = settings.controller.secret_key
    secure = (settings.controller.url or "").startswith("https://")
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=secure,
                      SESSION_COOKIE_NAME="edgecloud_session",
                      PERMANENT_SESSION_LIFETIME=int(settings.controller.session_hours * 3600))
    app.register_blueprint(bp)
