"""The one way a view refuses a request: raise ``ApiError``; the app answers it as JSON."""
from __future__ import annotations

from typing import Optional


class ApiError(Exception):
    """A client mistake, answered as ``{"error": message}`` with ``status``."""

    def __init__(self, message: str, status: int = 400, retry_after_s: Optional[int] = None):
        super().__init__(message)
        self.message = message
        self.status = status
        self.retry_after_s = retry_after_s

