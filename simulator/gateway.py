"""The path every SP-API request takes, whatever the operation.

authenticate (403) → pre-quota faults → token bucket (429) → token faults (400) → validate
parameters (400) → operation handler → post-handler faults (a ``hang`` holds the answer)
→ JSON. Authentication follows the operation's
kind (:attr:`Operation.grantless`, read from the model): a grantless operation takes only
an application token with its scope, every other operation only a seller's token; the
wrong kind is a 403 as SP-API answers. A grantless call's quota bucket and faults are
keyed by the application id where a seller call's are keyed by the seller. Every response,
success or error, carries ``x-amzn-RequestId`` and ``x-amzn-RateLimit-Limit``. Handlers
are plain functions from a :class:`Call` to a body dict and raise ``ApiError`` for 4xx.
The success status is the model's (202 for createReport); an operation whose model
declares no success body (cancelReport) answers with an empty one.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from . import errors
from .errors import ApiError
from .faults import (
    HANG,
    POST_HANDLER,
    PRE_QUOTA,
    TOKEN_FAULTS,
    TOKEN_PARAMS,
    UNAUTHORIZED,
    malform,
    truncate,
)
from .quotas import rate_header
from .spec import Operation
from .state import Simulator
from .validation import Params, validate
from .world import Seller


@dataclass(frozen=True)
class Call:
    sim: Simulator
    op: Operation
    account: Seller | None  # the token's seller; None for a grantless operation
    params: Params
    now: float
    body: bytes = b""  # the raw request body, for operations that take one
    origin: str = ""  # scheme://host[:port] the request came to (for document URLs)
    sent: frozenset[str] = frozenset()  # query parameter names the client actually sent

    @property
    def seller(self) -> Seller:
        """The seller the call is made for (every operation that is not grantless)."""
        if self.account is None:
            raise AssertionError(f"{self.op.operation_id} is grantless: it has no seller")
        return self.account


OperationHandler = Callable[[Call], dict[str, Any]]
Route = Callable[[web.Request], Awaitable[web.Response]]


def sp_api_route(sim: Simulator, op: Operation, handler: OperationHandler) -> Route:
    default_header = rate_header(op, sim.config.time_scale)

    async def route(request: web.Request) -> web.Response:
        header, hold = default_header, 0.0
        try:
            principal = _authenticate(sim, op, request.headers.get("x-amz-access-token"))
            header = sim.quotas.header(principal, op) or default_header
            raw = await request.read() if op.body else b""
            response, hold = _dispatch(sim, op, handler, request, principal, raw)
        except ApiError as error:
            response = error.response()
        if hold:
            await asyncio.sleep(hold)  # a hung answer: the client's timeout fires first
        response.headers["x-amzn-RequestId"] = str(uuid.uuid4())
        response.headers["x-amzn-RateLimit-Limit"] = header
        return response

    return route


def _authenticate(sim: Simulator, op: Operation, token: str | None) -> str:
    """Who is calling: the seller id, or the application id for a grantless operation."""
    if op.grantless_scope is not None:
        sim.lwa.check_grantless(token, op.grantless_scope)
        return sim.lwa.app.application_id
    return sim.lwa.seller_for(token)


def _dispatch(
    sim: Simulator, op: Operation, handler: OperationHandler, request: web.Request,
    principal: str, raw: bytes,
) -> tuple[web.Response, float]:
    """The response, and how many seconds to hold it (a ``hang`` fault) before sending."""
    seller = None if op.grantless else sim.world.sellers[principal]
    _pre_quota(sim, op, principal)
    if not sim.quotas.acquire(principal, op):
        raise errors.quota_exceeded()
    _token_faults(sim, op, principal, request)
    params = validate(op, request.query, request.match_info)
    call = Call(sim, op, seller, params, sim.clock.now(), raw, str(request.url.origin()),
                frozenset(request.query))
    return _post_handler(sim, op, principal, handler(call))


def _pre_quota(sim: Simulator, op: Operation, seller_id: str) -> None:
    rule = sim.faults.take_rule(op.operation_id, seller_id, PRE_QUOTA)
    if rule is None:
        return
    sim.quotas.bucket(seller_id, op).record_forced(throttled=rule.fault == "throttle")
    if rule.fault == "throttle":
        raise errors.quota_exceeded(rule.retry_after)
    if rule.fault == UNAUTHORIZED:
        raise errors.unauthorized(errors.NO_ACCESS)
    raise errors.unauthorized(errors.TOKEN_EXPIRED)


def _token_faults(sim: Simulator, op: Operation, seller_id: str, request: web.Request) -> None:
    """A pagination token refused (as an expired one is), on calls that carry one."""
    param = next((p for p in TOKEN_PARAMS if p in request.query), None)
    if param and sim.faults.take(op.operation_id, seller_id, TOKEN_FAULTS):
        raise errors.invalid_input(f"'{param}' has expired; start the query again.")


def _post_handler(
    sim: Simulator, op: Operation, seller_id: str, body: dict[str, Any]
) -> tuple[web.Response, float]:
    rule = sim.faults.take_rule(op.operation_id, seller_id, POST_HANDLER)
    if rule is not None and rule.fault == HANG:
        return _answer(op, body), rule.delay or 0.0
    return _answer(op, body, rule.fault if rule else None), 0.0


def _answer(op: Operation, body: dict[str, Any], fault: str | None = None) -> web.Response:
    if fault == "http_500":
        raise errors.internal_failure()
    if fault == "http_503":
        raise errors.service_unavailable()
    if fault == "truncated":
        return web.Response(body=truncate(body), content_type="application/json",
                            status=op.status)
    if fault == "malformed":
        return web.json_response(malform(op.operation_id, body), status=op.status)
    if not op.response and not body:
        return web.Response(status=op.status)
    return web.json_response(body, status=op.status)
