"""Typed SP-API errors, grouped by what the caller should do.

::

    SpApiError                      seller, operation, status, request_id, code
    ├── RetriableError              retry later; carries retry_after (seconds) when known
    │   ├── ThrottledError          429 QuotaExceeded
    │   └── ServerError             500 / 502 / 503 / 504, timeouts, connection resets
    │       └── LwaCoolingDown      LWA failed lately: its shared cool-down outlasts the
    │                               caller's patience (the client does not retry it inline)
    ├── InputError                  400 / 422: the request (or a pagination token) is wrong
    │   └── MalformedResponseError  200 whose body breaks the model: not JSON, wrong shape
    ├── AuthError                   401 / 403 (expired or revoked access token, missing role)
    │   └── InvalidGrantError       LWA invalid_grant: the seller revoked us; disable the seller
    └── NotFoundError               404

:func:`error_for_response` is the one place mapping an HTTP status + SP-API error body to
this tree. Messages name the seller, operation and status, never a token or a payload.
"""

from __future__ import annotations

from typing import Any


class SpApiError(Exception):
    def __init__(
        self,
        message: str,
        *,
        seller: str | None = None,
        operation: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        code: str | None = None,
    ) -> None:
        self.seller = seller
        self.operation = operation
        self.status = status
        self.request_id = request_id
        self.code = code
        self.detail = message
        where = " ".join(
            part
            for part in (
                f"seller={seller}" if seller else "",
                f"operation={operation}" if operation else "",
                f"status={status}" if status is not None else "",
                f"code={code}" if code else "",
                f"request_id={request_id}" if request_id else "",
            )
            if part
        )
        super().__init__(f"{message} ({where})" if where else message)


class RetriableError(SpApiError):
    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.retry_after = retry_after


class ThrottledError(RetriableError):
    pass


class ServerError(RetriableError):
    pass


class LwaCoolingDown(ServerError):
    pass


class InputError(SpApiError):
    pass


class MalformedResponseError(InputError):
    pass


class AuthError(SpApiError):
    pass


class InvalidGrantError(AuthError):
    pass


class NotFoundError(SpApiError):
    pass


def first_error(body: Any) -> tuple[str | None, str]:
    """(code, message) of the first SP-API error in a body, tolerating any shape."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return errors[0].get("code"), str(errors[0].get("message", ""))[:300]
    return None, ""


def error_for_response(
    status: int, body: Any, *, retry_after: float | None = None, **context: Any
) -> SpApiError:
    """Map an HTTP status + SP-API error body to the error tree."""
    code, message = first_error(body)
    text = message or f"HTTP {status}"
    if status == 429:
        return ThrottledError(text, status=status, code=code, retry_after=retry_after, **context)
    if status >= 500 or status == 408:
        return ServerError(text, status=status, code=code, retry_after=retry_after, **context)
    if status in (401, 403):
        return AuthError(text, status=status, code=code, **context)
    if status == 404:
        return NotFoundError(text, status=status, code=code, **context)
    return InputError(text, status=status, code=code, **context)
