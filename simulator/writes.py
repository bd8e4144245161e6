"""The write operations (what spsync's outbox sends) and their route: the gateway's, plus
the two write faults.

``slow`` makes a request wait ``delay`` seconds after it has been received in full, before
it is handled. A client that gives up or dies in the meantime does not stop it, just as
Amazon finishes a request whose caller vanished: the wait and the handling are shielded
from the cancellation a server runner may apply on disconnect (aiohttp's test server
does). ``answer_lost``
lets the gateway handle (and so apply) the write, then drops the connection instead of
answering, so the client sees a disconnect. It fires only on a request the gateway
answered with success: a refused write lost nothing. ``http_500``/``http_503`` (the
gateway's post-handler faults) also hit a write after it was applied.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from . import inbound, listings_writes, shipments
from .errors import ApiError
from .faults import ANSWER_LOST, SLOW
from .gateway import OperationHandler, Route, sp_api_route
from .spec import Operation
from .state import Simulator

HANDLERS: dict[str, OperationHandler] = {
    "confirmShipment": shipments.confirm_shipment,
    "patchListingsItem": listings_writes.patch_listings_item,
    "deleteListingsItem": listings_writes.delete_listings_item,
    "createInboundPlan": inbound.create_inbound_plan,
}
# Served through the plain gateway route: reads, so no write fault applies.
READ_HANDLERS: dict[str, OperationHandler] = {
    "getInboundOperationStatus": inbound.get_inbound_operation_status,
}


def add_routes(app: web.Application, sim: Simulator) -> None:
    for operation_id, handler in HANDLERS.items():
        op = sim.operations[operation_id]
        app.router.add_route(op.method, op.path, route(sim, op, handler))
    for operation_id, handler in READ_HANDLERS.items():
        op = sim.operations[operation_id]
        app.router.add_route(op.method, op.path, sp_api_route(sim, op, handler))


def route(sim: Simulator, op: Operation, handler: OperationHandler) -> Route:
    inner = sp_api_route(sim, op, handler)

    async def late(delay: float, request: web.Request) -> web.Response:
        await asyncio.sleep(delay)
        return await inner(request)

    async def write(request: web.Request) -> web.Response:
        seller_id = _seller(sim, request)
        slow = sim.faults.take_rule(op.operation_id, seller_id, frozenset({SLOW})) \
            if seller_id else None
        if slow is None:
            response = await inner(request)
        else:
            await request.read()  # received in full (aiohttp keeps it for the handler)
            handling = asyncio.ensure_future(late(slow.delay or 0.0, request))
            response = await asyncio.shield(handling)
        lost = seller_id and response.status < 300 and sim.faults.take(
            op.operation_id, seller_id, frozenset({ANSWER_LOST}))
        if lost and request.transport is not None:
            request.transport.abort()  # applied; the answer never leaves
        return response

    return write


def _seller(sim: Simulator, request: web.Request) -> str | None:
    try:
        return sim.lwa.seller_for(request.headers.get("x-amz-access-token"))
    except ApiError:
        return None  # the gateway answers 403; no fault fires on it
