"""``/_sim/*``: the knobs and read-outs tests, the demo and benchmarks use.

Not part of SP-API. Bad input gets 400 ``{"error": "..."}``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from . import sales_traffic
from .bigreport import GENERATED_TYPES
from .clock import iso
from .faults import DELAYED, FAULT_OPERATIONS, KINDS, WRITE_FAULTS, FaultRule
from .inbound import truth as inbound_truth
from .inventory import truth as inventory_truth
from .listing_render import truth as listings_truth
from .publisher import FBA_INVENTORY, LISTINGS_STATUS, ORDER_CHANGE, REPORT_FINISHED, TYPES
from .reports_api import generate_report
from .state import Simulator
from .world import Order, Seller
from .writes import HANDLERS as WRITE_HANDLERS

Route = Callable[[web.Request], Awaitable[web.Response]]


class BadRequest(Exception):
    pass


def add_routes(app: web.Application, sim: Simulator) -> None:
    table: list[tuple[str, str, Callable[[Simulator, web.Request], Awaitable[Any]]]] = [
        ("GET", "/_sim/sellers", _sellers),
        ("GET", "/_sim/truth/orders", _truth),
        ("GET", "/_sim/stats", _stats),
        ("POST", "/_sim/mutate", _mutate),
        ("POST", "/_sim/control", _control),
        ("POST", "/_sim/clock", _clock),
        ("GET", "/_sim/faults", _list_faults),
        ("POST", "/_sim/faults", _add_fault),
        ("DELETE", "/_sim/faults", _clear_faults),
        ("POST", "/_sim/limits", _set_limit),
        ("GET", "/_sim/truth/inventory", _truth_inventory),
        ("GET", "/_sim/truth/listings", _truth_listings),
        ("GET", "/_sim/truth/inbound", _truth_inbound),
        ("GET", "/_sim/truth/sales-traffic", _truth_sales_traffic),
        ("POST", "/_sim/reports/generate", _generate_report),
        ("POST", "/_sim/sellers/{selling_partner_id}/revoke", _revoke),
        ("POST", "/_sim/auth-codes", _auth_code),
        ("GET", "/_sim/consent", _consent),
        ("POST", "/_sim/consent", _set_consent),
        ("POST", "/_sim/notify", _notify),
    ]
    for method, path, handler in table:
        app.router.add_route(method, path, _wrap(sim, handler))


def _wrap(sim: Simulator, handler: Callable[[Simulator, web.Request], Awaitable[Any]]) -> Route:
    async def route(request: web.Request) -> web.Response:
        try:
            return web.json_response(await handler(sim, request))
        except BadRequest as error:
            return web.json_response({"error": str(error)}, status=400)

    return route


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        data = json.loads(await request.text() or "{}")
    except ValueError:
        raise BadRequest("body must be JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body must be a JSON object")
    return data


def _seller(sim: Simulator, seller_id: object) -> Seller:
    seller = sim.world.sellers.get(str(seller_id))
    if seller is None:
        raise BadRequest(f"unknown seller_id {seller_id!r}")
    return seller


def _count(data: dict[str, Any], default: int) -> int:
    count = data.get("count", default)
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise BadRequest("count must be a positive integer")
    return count


async def _sellers(sim: Simulator, request: web.Request) -> dict[str, Any]:
    app = sim.lwa.app
    sellers = [
        {
            "selling_partner_id": s.seller_id,
            "region": s.region,
            "marketplace_ids": s.marketplace_ids,
            "refresh_token": sim.lwa.refresh_tokens[s.seller_id],
        }
        for s in sim.world.sellers.values()
    ]
    return {
        "application": {
            "client_id": app.client_id,
            "client_secret": app.client_secret,
            "application_id": app.application_id,
        },
        "sellers": sellers,
    }


async def _truth(sim: Simulator, request: web.Request) -> dict[str, Any]:
    seller = _seller(sim, request.query.get("seller_id"))
    return {"orders": [_truth_order(o) for o in seller.orders.values()]}


def _truth_order(order: Order) -> dict[str, Any]:
    currency = order.marketplace.currency
    return {
        "AmazonOrderId": order.order_id,
        "OrderStatus": order.status.v0,
        "PurchaseDate": iso(order.purchase_date),
        "LastUpdateDate": iso(order.last_update),
        "MarketplaceId": order.marketplace.marketplace_id,
        "OrderTotal": {"CurrencyCode": currency, "Amount": f"{order.total:.2f}"},
        "OrderItems": [
            {
                "OrderItemId": i.order_item_id,
                "SellerSKU": i.product.sku,
                "ASIN": i.product.asin,
                "QuantityOrdered": i.quantity_ordered,
                "QuantityShipped": i.quantity_shipped,
                "ItemPrice": {"CurrencyCode": currency, "Amount": f"{i.line_total:.2f}"},
            }
            for i in order.items
        ],
    }


async def _stats(sim: Simulator, request: web.Request) -> dict[str, Any]:
    lwa, consent = sim.lwa.stats, sim.consent.stats
    return {
        "elapsed_seconds": sim.clock.now() - sim.started,
        "time_scale": sim.config.time_scale,
        "buckets": sim.quotas.stats(),
        "writes": sim.writes.stats(),  # per write operation: received / applied, by key
        "lwa": {"grants": lwa.grants, "refresh_grants": lwa.refresh_grants, "errors": lwa.errors},
        "consent": {"approved": consent.approved, "errors": consent.errors},
        "notifications": sim.notifications.render_stats(),
        "faults": sim.faults.fired(),  # per (seller, operation, fault): how often it fired
        # Passes each background loop has completed: to know that one has run since some
        # moment (and so done whatever it would do by then), wait for its count to grow.
        "background": {"change_loop": sim.changes.ticks,
                       "report_watch": sim.notifications.watch_passes},
    }


async def _mutate(sim: Simulator, request: web.Request) -> dict[str, Any]:
    data = await _json(request)
    seller = _seller(sim, data.get("seller_id"))
    kind, count, now = data.get("kind", "orders"), _count(data, 1), sim.clock.now()
    if kind == "inventory":  # the changed SKUs
        return {"changed": sim.catalog.apply_inventory(seller.seller_id, count, now)}
    if kind == "listings":  # the changed SKUs
        return {"changed": sim.catalog.apply_listings(seller.seller_id, count, now)}
    if kind == "unshipped":  # new merchant-fulfilled orders, ready to ship
        return {"changed": sim.mutator.place(seller.seller_id, count, now)}
    if kind != "orders":
        raise BadRequest("kind must be 'orders', 'unshipped', 'inventory' or 'listings'")
    return {"changed": sim.mutator.apply(seller.seller_id, count, now)}


async def _truth_inventory(sim: Simulator, request: web.Request) -> dict[str, Any]:
    seller = _seller(sim, request.query.get("seller_id"))
    return {"inventory": inventory_truth(seller)}


async def _truth_sales_traffic(sim: Simulator, request: web.Request) -> dict[str, Any]:
    """One UTC day's GET_SALES_AND_TRAFFIC_REPORT (DAY, CHILD) as a report asked now shows it."""
    seller = _seller(sim, request.query.get("seller_id"))
    market = request.query.get("marketplace_id", "")
    if market not in seller.marketplace_ids:
        raise BadRequest("marketplace_id must be one of the seller's")
    try:
        day = datetime.fromisoformat(request.query.get("date", "")).replace(tzinfo=UTC)
    except ValueError:
        raise BadRequest("date must be YYYY-MM-DD") from None
    start = day.timestamp()
    return sales_traffic.report(seller, market, start, start + 86399,
                                {"dateGranularity": "DAY", "asinGranularity": "CHILD"},
                                sim.clock.now())


async def _truth_listings(sim: Simulator, request: web.Request) -> dict[str, Any]:
    seller = _seller(sim, request.query.get("seller_id"))
    return {"listings": listings_truth(seller)}


async def _generate_report(sim: Simulator, request: web.Request) -> dict[str, Any]:
    """A DONE report with ``rows`` synthetic order rows, generated while downloading."""
    data = await _json(request)
    seller = _seller(sim, data.get("seller_id"))
    rows = data.get("rows")
    if not isinstance(rows, int) or isinstance(rows, bool) or rows < 1:
        raise BadRequest("rows must be a positive integer")
    report_type = str(data.get("report_type", GENERATED_TYPES[0]))
    prerender = data.get("prerender", False)
    if not isinstance(prerender, bool):
        raise BadRequest("prerender must be true or false")
    try:
        report = generate_report(sim, seller, report_type, rows, prerender)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return {
        "reportId": report.report_id,
        "reportDocumentId": report.document_id,
        "reportType": report.report_type,
        "processingStatus": report.outcome,
        "rows": rows,
    }


async def _control(sim: Simulator, request: web.Request) -> dict[str, Any]:
    rate = _number(await _json(request), "changes_per_minute", "a non-negative number")
    sim.changes.changes_per_minute = rate
    return {"changes_per_minute": rate}


async def _clock(sim: Simulator, request: web.Request) -> dict[str, Any]:
    """Move simulated time forward by ``advance`` seconds (access tokens expire, quotas
    refill, pagination tokens age); what changes from now on is stamped that much later."""
    sim.clock.advance(_number(await _json(request), "advance", "a non-negative number"))
    return {"now": sim.clock.now()}


async def _list_faults(sim: Simulator, request: web.Request) -> dict[str, Any]:
    return {"faults": sim.faults.pending()}


async def _add_fault(sim: Simulator, request: web.Request) -> dict[str, Any]:
    """A fault rule: ``fault``, ``operation`` (filled in for faults that own one), optional
    ``seller_id``, ``count`` (default 1; unlimited with ``probability`` or ``duration``, so
    ``{"fault": "unauthorized", "operation": ..., "probability": 1}`` refuses every call),
    ``retry_after`` (throttle), ``delay`` (slow, hang), ``probability`` (0 < p <= 1) and
    ``duration`` (seconds of simulator time the rule lives)."""
    data = await _json(request)
    fault = data.get("fault")
    if fault not in KINDS:
        raise BadRequest(f"fault must be one of {sorted(KINDS)}")
    operation = _fault_operation(sim, data, str(fault))
    seller_id = data.get("seller_id")
    if seller_id is not None:
        seller_id = _seller(sim, seller_id).seller_id
    retry_after = None if data.get("retry_after") is None else _number(
        data, "retry_after", "a non-negative number of seconds")
    if fault in WRITE_FAULTS and operation not in WRITE_HANDLERS:
        raise BadRequest(f"fault {fault} applies to the write operations only: "
                         f"{sorted(WRITE_HANDLERS)}")
    delay = _number(data, "delay", "a non-negative number of seconds") if fault in DELAYED \
        else None
    probability = None if data.get("probability") is None else _number(
        data, "probability", "a number in (0, 1]", positive=True)
    if probability is not None and probability > 1:
        raise BadRequest("probability must be a number in (0, 1]")
    duration = None if data.get("duration") is None else _number(
        data, "duration", "a positive number of seconds", positive=True)
    unlimited = (probability is not None or duration is not None) and "count" not in data
    count = None if unlimited else _count(data, 1)
    until = None if duration is None else sim.clock.now() + duration
    sim.faults.add(FaultRule(operation, seller_id, str(fault), count, retry_after, delay,
                             probability, until))
    return {"faults": sim.faults.pending()}


async def _truth_inbound(sim: Simulator, request: web.Request) -> dict[str, Any]:
    seller = _seller(sim, request.query.get("seller_id"))
    return {"plans": inbound_truth(sim, seller)}


async def _set_limit(sim: Simulator, request: web.Request) -> dict[str, Any]:
    data = await _json(request)
    operation = _operation(sim, data)
    rate = _number(data, "rate", "a positive number of requests per second", positive=True)
    seller = _seller(sim, data.get("seller_id"))
    sim.quotas.set_rate(seller.seller_id, sim.operations[operation], rate)
    return {"seller_id": seller.seller_id, "operation": operation, "rate": rate}


def _operation(sim: Simulator, data: dict[str, Any]) -> str:
    operation = data.get("operation")
    if operation not in sim.operations:
        raise BadRequest(f"operation must be one of {sorted(sim.operations)}")
    return str(operation)


def _fault_operation(sim: Simulator, data: dict[str, Any], fault: str) -> str:
    """Report faults belong to one operation, filled in when the request omits it."""
    owner = FAULT_OPERATIONS.get(fault)
    if owner is None:
        return _operation(sim, data)
    if data.get("operation", owner) != owner:
        raise BadRequest(f"fault {fault} applies to operation {owner} only")
    return owner


def _number(data: dict[str, Any], key: str, what: str, *, positive: bool = False) -> float:
    value = data.get(key)
    if (not isinstance(value, int | float) or isinstance(value, bool) or value < 0
            or (positive and value == 0)):
        raise BadRequest(f"{key} must be {what}")
    return float(value)


async def _clear_faults(sim: Simulator, request: web.Request) -> dict[str, Any]:
    return {"cleared": sim.faults.clear()}


async def _revoke(sim: Simulator, request: web.Request) -> dict[str, Any]:
    seller = _seller(sim, request.match_info["selling_partner_id"])
    sim.lwa.revoke(seller.seller_id)
    return {"revoked": seller.seller_id}


async def _auth_code(sim: Simulator, request: web.Request) -> dict[str, Any]:
    seller = _seller(sim, (await _json(request)).get("selling_partner_id"))
    return {"code": sim.lwa.new_code(seller.seller_id)}


async def _consent(sim: Simulator, request: web.Request) -> dict[str, Any]:
    return {"selling_partner_id": sim.consent.approver}


async def _set_consent(sim: Simulator, request: web.Request) -> dict[str, Any]:
    """Which seller approves the following consent-page visits, until changed."""
    seller = _seller(sim, (await _json(request)).get("selling_partner_id"))
    sim.consent.set_approver(seller.seller_id)
    return {"selling_partner_id": seller.seller_id}


# /_sim/notify: the field naming what a message of each type is about.
SUBJECTS = {ORDER_CHANGE: "order_id", FBA_INVENTORY: "sku", LISTINGS_STATUS: "sku",
            REPORT_FINISHED: "report_id"}


async def _notify(sim: Simulator, request: web.Request) -> dict[str, Any]:
    """Publish ``count`` notifications of ``type`` (default ORDER_CHANGE) for a subscribed
    seller now, or at ``rate`` a second in the background: about the ``order_id`` /
    ``sku`` / ``report_id`` given, else about the seller's orders (latest change first),
    SKUs or finished reports in turn. Counts show in ``/_sim/stats`` ``notifications``."""
    data = await _json(request)
    seller = _seller(sim, data.get("seller_id"))
    kind = data.get("type", ORDER_CHANGE)
    if kind not in TYPES:
        raise BadRequest(f"type must be one of {list(TYPES)}")
    subject = data.get(SUBJECTS[kind])
    if subject is not None and not isinstance(subject, str):
        raise BadRequest(f"{SUBJECTS[kind]} must be a string")
    count = _count(data, 1)
    rate = None if data.get("rate") is None else _number(
        data, "rate", "a positive number of messages per second", positive=True)
    try:
        if rate is None:
            return {"published": sim.notifications.publish_now(seller, kind, subject, count)}
        sim.notifications.publish_paced(seller, kind, subject, count, rate)
    except ValueError as error:
        raise BadRequest(str(error)) from None
    return {"scheduled": count, "rate": rate}
