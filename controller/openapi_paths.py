"""The ``paths`` of ``/v1/openapi.json``: every route, its parameters, and each status it answers.

Apart from the schemas (``openapi_models`` and the request models): a body is
referred to here by name only (``$ref``), and what a route answers changes with
the views while the models change with the data.
"""

from __future__ import annotations

from typing import Optional

from edgecloud.protocol.containers import CLIP_TYPES

from .events_api import MAX_LIMIT


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(name: str, description: str, headers: Optional[dict] = None) -> dict:
    answer = {"description": description, "content": {"application/json": {"schema": _ref(name)}}}
    if headers:
        answer["headers"] = headers
    return answer


_SECONDS = {"schema": {"type": "integer", "minimum": 1}, "description": "Seconds to wait before trying again."}
_CHALLENGE = {"schema": {"type": "string"}, "description": "Bearer"}
_AUTH = {
    "401": _json("Error", "No token, or an unknown or revoked one", {"WWW-Authenticate": _CHALLENGE}),
    "403": _json("Error", "The token's holder may not do this"),
    "429": _json(
        "Error",
        "Over the device's request burst, or too many wrong tokens from this address",
        {"Retry-After": _SECONDS},
    ),
}


def _object(description: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": {"type": "object"}}}}


def paths() -> dict:
    """Every route of the API, keyed by path."""
    clip_id = {
        "name": "clip_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "<UTC time>_<device id>_<8 hex> (edgecloud.protocol.ids.ClipId.new)",
    }
    wait = {
        "name": "wait",
        "in": "query",
        "required": False,
        "schema": {"type": "number", "minimum": 0},
        "description": "Hold the request up to this many seconds (capped by controller.max_wait_s) until final.",
    }
    upload_form = {
        "type": "object",
        "required": ["metadata"],
        "properties": {
            "clip": {
                "type": "string",
                "format": "binary",
                "description": f"The video: one of {sorted(CLIP_TYPES)}; "
                "required, except that a record with metadata.video_dropped has none",
            },
            "metadata": _ref("UploadMetadata"),
            "result": {"type": "string", "description": "JSON of a Result the edge computed (the clip id must match)"},
        },
    }
    event_id = {
        "name": "event_id",
        "in": "path",
        "required": True,
        "schema": {"type": "string"},
        "description": "ev_<the id of the event's first clip>",
    }
    event_filters = [
        {"name": name, "in": "query", "required": False, "schema": {"type": "string"}, "description": d}
        for name, d in (
            ("device", "Only this device's (a device: its own only)"),
            ("label", "Only events in which this label was tracked"),
            ("zone", "Only events in which an object entered this zone"),
        )
    ]
    event_filters += [
        {
            "name": "since",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "format": "date-time"},
            "description": "Started at or after",
        },
        {
            "name": "before",
            "in": "query",
            "required": False,
            "schema": {"type": "string", "format": "date-time"},
            "description": "Started before (the next page back: a page's next_before)",
        },
        {
            "name": "before_id",
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": "With before: also the events that started at `before` whose id sorts below this one "
            "(a page's next_before_id: none that share its oldest event's start is skipped or repeated)",
        },
        {
            "name": "limit",
            "in": "query",
            "required": False,
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
        },
    ]
    device_body = {"type": "object", "required": ["device_id"], "properties": {"device_id": {"type": "string"}}}
    device_query = {"name": "device_id", "in": "query", "required": True, "schema": {"type": "string"}}
    return {
        "/v1/clips": {
            "post": {
                "summary": "Upload a clip (devices, as themselves), with or without the edge's result; or, with "
                "metadata.video_dropped, only the record of a clip whose video the Pi dropped",
                "requestBody": {
                    "required": True,
                    "content": {
                        "multipart/form-data": {
                            "schema": upload_form,
                            "encoding": {
                                "metadata": {"contentType": "application/json"},
                                "clip": {"contentType": ", ".join(sorted(CLIP_TYPES))},
                            },
                        }
                    },
                },
                "responses": {
                    "201": _json("UploadAccepted", "Stored (or already stored: duplicate)"),
                    "400": _json(
                        "Error",
                        "Bad form, metadata, clip id (or one of a time that does not exist) or "
                        "result; any number in them not finite (NaN, Infinity, 1e400)",
                    ),
                    **_AUTH,
                    "413": _json("Error", "Clip over controller.max_clip_mb"),
                    "415": _json("Error", "Not a clip type we take, or the bytes are not the container claimed"),
                    "422": _json(
                        "Error",
                        "The clip's headers are unreadable, or break limits.max_pixels, max_frames or max_duration_s",
                    ),
                    "429": _json(
                        "Error",
                        "Over the device's request burst or daily cap, or too many wrong tokens from this address",
                        {"Retry-After": _SECONDS},
                    ),
                    "503": _json("Error", "Storage unavailable; try again"),
                },
            }
        },
        "/v1/clips/{clip_id}": {
            "get": {
                "summary": "A clip's status and result (its device, or operators)",
                "parameters": [clip_id, wait],
                "responses": {
                    "200": _json("ClipStatus", "The clip"),
                    "400": _json("Error", "Bad clip id or wait"),
                    **_AUTH,
                    "404": _json("Error", "Unknown clip"),
                    "503": _json("Error", "Storage unavailable; try again"),
                },
            }
        },
        "/v1/clips/retry": {
            "post": {
                "summary": "Send failed clips through again (operators); idempotent",
                "requestBody": {
                    "required": False,
                    "content": {"application/json": {"schema": _ref("RetryRequest")}},
                },
                "responses": {
                    "200": _json("Requeued", "What went back to the queue (none: nothing new)"),
                    "400": _json("Error", "Bad body"),
                    **_AUTH,
                    "503": _json("Error", "Storage unavailable; try again"),
                },
            }
        },
        "/v1/stats": {
            "get": {
                "summary": "Recent latencies, queue depth, workers (devices and operators)",
                "responses": {
                    "200": _json("Stats", "Figures; null where unknown"),
                    "401": _AUTH["401"],
                    "429": _AUTH["429"],
                },
            }
        },
        "/v1/frames/upload": {
            "post": {
                "summary": ("A presigned S3 POST for this device's frames (edge.mode: frames; devices, as themselves)"),
                "requestBody": {"required": True, "content": {"application/json": {"schema": device_body}}},
                "responses": {
                    "200": _object(
                        "url, fields (key included), frame_id, key, max_bytes, expires_at: one frame's POST"
                    ),
                    "400": _json("Error", "Bad device id"),
                    **_AUTH,
                    "503": _json("Error", "Storage unavailable; try again"),
                },
            }
        },
        "/v1/frames/answers": {
            "get": {
                "summary": "The function's answers to this device's frames, waiting up to `wait` s (at most 20)",
                "parameters": [device_query, wait],
                "responses": {
                    "200": _object("answers: the frame answers, oldest first"),
                    "400": _json("Error", "Bad device id or wait"),
                    **_AUTH,
                    "503": _json("Error", "Storage unavailable; try again"),
                },
            }
        },
        "/v1/events": {
            "get": {
                "summary": "Events, newest first (operators: all; a device: its own)",
                "parameters": event_filters,
                "responses": {
                    "200": _json("EventList", "The events"),
                    "400": _json("Error", "Bad device, label, zone, since, before, before_id or limit"),
                    **_AUTH,
                    "503": _json("Error", "Storage unavailable; try again"),
                },
            }
        },
        "/v1/events/{event_id}": {
            "get": {
                "summary": "One event (its device, or operators)",
                "parameters": [event_id],
                "responses": {
                    "200": _json("EventOut", "The event (or the one it was merged into)"),
                    "400": _json("Error", "Bad event id"),
                    **_AUTH,
                    "404": _json("Error", "Unknown event"),
                    "503": _json("Error", "Storage unavailable; try again"),
                },
            }
        },
        "/v1/openapi.json": {
            "get": {
                "summary": "This document",
                "responses": {
                    "200": {
                        "description": "OpenAPI 3.1",
                        "content": {"application/json": {"schema": {"type": "object"}}},
                    },
                    "401": _AUTH["401"],
                    "429": _AUTH["429"],
                },
            }
        },
        "/healthz": {
            "get": {"summary": "Liveness (no token)", "security": [], "responses": {"200": _json("Health", "Up")}}
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (operators)",
                "responses": {
                    "200": {
                        "description": "Prometheus text format",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    **_AUTH,
                },
            }
        },
    }
