"""``GET /v1/openapi.json``: the API as a contract (OpenAPI 3.1).

Bodies come from pydantic models (``model_json_schema``): the request's
``UploadMetadata`` and ``Result``, and the response models in
``openapi_models``, which say what the views in ``api`` answer; the routes and
what each answers are in ``openapi_paths``. This module puts the two together
and serves the document. The tests run schemathesis against the real app with
this spec: no 500, every answer as documented.
"""

from __future__ import annotations

from flask import Blueprint, jsonify
from pydantic.json_schema import models_json_schema

from edgecloud.protocol.messages import UploadMetadata

from .events_api import EventList, EventOut
from .openapi_models import ClipStatus, Error, Health, Stats, UploadAccepted
from .openapi_paths import paths
from .retry import Requeued, RetryRequest

bp = Blueprint("openapi", __name__)


def spec() -> dict:
    """The whole OpenAPI document."""
    models = [
        (m, "serialization") for m in (Error, UploadAccepted, ClipStatus, Stats, Health, Requeued, EventList, EventOut)
    ]
    models += [(UploadMetadata, "validation"), (RetryRequest, "validation")]
    _, defs = models_json_schema(models, ref_template="#/components/schemas/{model}")
    return {
        "openapi": "3.1.0",
        "info": {"title": "edgecloud controller", "version": "1"},
        "components": {
            "schemas": defs["$defs"],
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "`edgecloud devices add` / `operators add`",
                }
            },
        },
        "security": [{"bearer": []}],
        "paths": paths(),
    }


@bp.get("/v1/openapi.json")
def openapi_json():
    return jsonify(spec())
