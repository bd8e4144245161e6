"""Typed errors, grouped by what the caller should do.

::

    SpApiError                      seller, operation, status, request_id, code
    ├── RetriableError              retry later; carries retry_after (seconds) when known
    │   ├── ThrottledError          429 QuotaExceeded
    │   ├── QuotaWaitTooLong        the quota frees up later than the caller may wait (our
    │   │                           bucket, or Amazon's 429 pause): nothing was sent; its
    │   │                           wait is retry_after; a task re-queues for that long
    │   │                           without counting a retry
    │   ├── ServerError             500 / 502 / 503 / 504, timeouts, connection resets
    │   │   └── LwaCoolingDown      LWA failed lately: its shared cool-down outlasts the
    │   │                           caller's patience (the client does not retry it inline)
    │   └── ReportStillProcessingError   (sync/reports.py) Amazon has not finished a report
    │                                    in the time allowed; the next run polls it again
    ├── InputError                  400 / 422: the request (or a pagination token) is wrong
    │   ├── MalformedResponseError  200 whose body breaks the model: not JSON, wrong shape
    │   │   └── TruncatedDocumentError   (sync/report_parse.py) a report document ends early
    │   ├── DocumentUrlExpiredError      (spapi/documents.py) fetch the document URL again
    │   ├── InvalidParams           (outbox/params.py) a command Amazon's model refuses:
    │   │                           never sent
    │   └── InvalidCommand          (outbox/enqueue.py) refused at enqueue: unknown command,
    │                               bad params, an idempotency key taken by another command
    ├── AuthError                   401 / 403 (expired or revoked access token, missing role)
    │   └── InvalidGrantError       LWA invalid_grant: the seller revoked us; disable the seller
    ├── NotFoundError               404
    └── ReportFailedError           (sync/reports.py) a report ended FATAL or its document
                                    could not be read; the ``reports`` row says why

:func:`error_for_response` is the one place mapping an HTTP status + SP-API error body to
this tree. Messages name the seller, operation and status, never a token or a payload. The
errors defined in other modules are drawn here so the tree stays whole; the outbox's two are
also ``ValueError`` (callers that validate input catch them as such).
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


class QuotaWaitTooLong(RetriableError):
    """Taking a token would block longer than the caller allows; retry after ``wait``.

    Raised before the request left (or after a 429 Amazon asked a long pause for), so the
    request was certainly not applied. ``wait`` is also its ``retry_after``.
    """

    def __init__(self, key: str, wait: float) -> None:
        super().__init__(f"quota for {key} frees up in {wait:.1f}s", retry_after=wait)
        self.key = key
        self.wait = wait


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
