"""SP-API error bodies: ``{"errors": [{"code", "message", "details"}]}``.

Both Orders models declare the same ``Error`` shape (code and message required), so one
builder serves v0 and 2026-01-01. Handlers raise :class:`ApiError`; the gateway turns it
into a response, so no handler builds an error response itself.
"""

from __future__ import annotations

from aiohttp import web


class ApiError(Exception):
    """An SP-API error response waiting to be sent."""

    def __init__(
        self, status: int, code: str, message: str, details: str = "",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers or {}

    def response(self) -> web.Response:
        response = error_response(self.status, self.code, self.message, self.details)
        response.headers.update(self.headers)
        return response


def error_body(code: str, message: str, details: str = "") -> dict[str, object]:
    return {"errors": [{"code": code, "message": message, "details": details}]}


def error_response(status: int, code: str, message: str, details: str = "") -> web.Response:
    return web.json_response(error_body(code, message, details), status=status)


def invalid_input(message: str) -> ApiError:
    return ApiError(400, "InvalidInput", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NotFound", message)


def conflict(details: str) -> ApiError:
    """409, worded as the Notifications model documents it (e.g. a destination for that arn
    or a subscription for that type already exists)."""
    return ApiError(409, "Conflict", "The resource specified conflicts with the current state.",
                    details)


def quota_exceeded(retry_after: float | None = None) -> ApiError:
    headers = {"Retry-After": format(retry_after, "g")} if retry_after is not None else None
    return ApiError(429, "QuotaExceeded", "You exceeded your quota for the requested resource.",
                    headers=headers)


def unauthorized(details: str) -> ApiError:
    return ApiError(403, "Unauthorized", "Access to requested resource is denied.", details)


TOKEN_INVALID = "The access token you provided is revoked, malformed or invalid."  # noqa: S105 - message
TOKEN_EXPIRED = "The access token you provided has expired."  # noqa: S105 - message
# A valid token of the wrong kind (a seller's on a grantless operation or the reverse):
# Amazon answers the plain 403 with empty details.
WRONG_TOKEN_KIND = ""
# A seller (or application) without the role or access the operation's API needs: the same
# plain 403 (the ``unauthorized`` fault).
NO_ACCESS = ""


def internal_failure() -> ApiError:
    return ApiError(500, "InternalFailure", "We encountered an internal error. Please try again.")


def service_unavailable() -> ApiError:
    return ApiError(
        503, "ServiceUnavailable", "Service is temporarily unavailable. Please try again."
    )
