"""The controller's Flask app, made by a factory (flaskr style)."""

from __future__ import annotations

import logging
import secrets
from typing import Any, Mapping, Optional

from botocore.exceptions import BotoCoreError, ClientError
from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException

from edgecloud.config import Settings

from . import (
    api,
    auth,
    errors,
    events_api,  # noqa: F401 - likewise
    frames,  # noqa: F401 - importing it adds its routes to api.bp
    openapi,
    resources,
    retry,  # noqa: F401 - likewise
)
from .dashboard import init_dashboard

log = logging.getLogger(__name__)

# Room for the metadata and result fields next to a clip at the size cap.
FORM_SLACK_BYTES = 16 * 1024 * 1024


def create_app(settings: Settings, test_config: Optional[Mapping[str, Any]] = None) -> Flask:
    """The API app. ``test_config`` overrides Flask config keys (e.g. ``TESTING``)."""
    app = Flask(__name__)
    max_clip = int(settings.controller.max_clip_mb * 1024 * 1024)
    app.config.from_mapping(
        MAX_CONTENT_LENGTH=max_clip + FORM_SLACK_BYTES,
        MAX_FORM_MEMORY_SIZE=FORM_SLACK_BYTES,  # an edge result with many detections is a big text field
        JSON_SORT_KEYS=False,
    )
    if test_config:
        app.config.update(test_config)
    resources.init_app(app, settings)
    auth.init_app(app)
    errors.init_app(app)
    app.register_blueprint(api.bp)
    init_dashboard(app, settings)
    app.register_blueprint(openapi.bp)

    @app.errorhandler(HTTPException)
    def _http_error(err: HTTPException):
        return jsonify(error=err.description or err.name), err.code

    @app.errorhandler(ClientError)
    @app.errorhandler(BotoCoreError)
    def _aws_error(err: Exception):
        # AWS's text names buckets, queues, accounts and ARNs: it stays in the log, under an id the client is told.
        incident = secrets.token_hex(6)
        log.error("AWS call failed (incident %s): %s", incident, err)
        return jsonify(error=f"storage unavailable; try again later (incident {incident})"), 503

    return app
