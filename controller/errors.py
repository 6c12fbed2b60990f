"""The one way the controller refuses a request: raise ``Refused``; the app answers it as JSON.

One type for every refusal, whether for what was sent (400, 404, 409, 413, 415, 422) or for who
sent it or how much (401, 403, 429): the client reads them all the same way, as
``{"error": message}`` with the status and, where there is one, ``Retry-After``. It lives with
the controller because only the controller raises it; clients see a status code, not a type.
"""

from __future__ import annotations

from typing import Mapping, Optional

from flask import Flask, jsonify


class Refused(Exception):
    """A request refused: ``{"error": message}`` with ``status`` and any extra ``headers``."""

    def __init__(
        self,
        message: str,
        status: int = 400,
        headers: Optional[Mapping[str, str]] = None,
        *,
        retry_after_s: Optional[int] = None,
    ):
        super().__init__(message)
        self.message = message
        self.status = status
        self.headers = dict(headers or {})
        if retry_after_s is not None:
            self.headers["Retry-After"] = str(retry_after_s)


def init_app(app: Flask) -> None:
    @app.errorhandler(Refused)
    def _refused(err: Refused):
        return jsonify(error=err.message), err.status, err.headers
