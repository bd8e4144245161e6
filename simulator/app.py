"""The aiohttp application: LWA, the consent page, the SP-API operations, ``/_sim`` controls,
and the background tasks (the change loop, the notification sender).

``create_app`` is what tests mount with ``aiohttp_client``; ``serve`` runs it on a
socket until cancelled; ``run`` is the blocking entry point behind the CLI.
"""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import suppress

from aiohttp import web

from . import (
    brand_analytics_api,
    catalog_api,
    downloads,
    fba_reports,
    finances_api,
    inbound_plans,
    inventory,
    listings,
    merchant_stock,
    notifications_api,
    order_metrics,
    orders_2026,
    orders_v0,
    pricing_api,
    reports_api,
    returns,
    sellers_api,
    settlement_book,
    writes,
)
from .clock import Clock
from .config import SimConfig
from .consent import CONSENT_PATH, consent_route
from .control import add_routes
from .gateway import OperationHandler, sp_api_route
from .lwa import token_route
from .state import Simulator, build_simulator

SIMULATOR = web.AppKey("simulator", Simulator)

HANDLERS: dict[str, OperationHandler] = {
    "getOrders": orders_v0.get_orders,
    "getOrderItems": orders_v0.get_order_items,
    "searchOrders": orders_2026.search_orders,
    "getOrder": orders_2026.get_order,
    "getInventorySummaries": inventory.get_inventory_summaries,
    "getListingsItem": listings.get_listings_item,
    "searchListingsItems": listings.search_listings_items,
    "createReport": reports_api.create_report,
    "getReports": reports_api.get_reports,
    "getReport": reports_api.get_report,
    "cancelReport": reports_api.cancel_report,
    "getReportDocument": reports_api.get_report_document,
    "getMarketplaceParticipations": sellers_api.get_marketplace_participations,
    "getDestinations": notifications_api.get_destinations,
    "createDestination": notifications_api.create_destination,
    "getDestination": notifications_api.get_destination,
    "deleteDestination": notifications_api.delete_destination,
    "createSubscription": notifications_api.create_subscription,
    "getSubscription": notifications_api.get_subscription,
    "getSubscriptionById": notifications_api.get_subscription_by_id,
    "deleteSubscriptionById": notifications_api.delete_subscription_by_id,
    "listTransactions": finances_api.list_transactions,
    "listFinancialEventGroups": finances_api.list_financial_event_groups,
    "listFinancialEvents": finances_api.list_financial_events,
    "searchCatalogItems": catalog_api.search_catalog_items,
    "getCompetitiveSummary": pricing_api.get_competitive_summary,
    "getOrderMetrics": order_metrics.get_order_metrics,
    "listInboundPlans": inbound_plans.list_inbound_plans,
    "getInboundPlan": inbound_plans.get_inbound_plan,
    "getShipment": inbound_plans.get_shipment,
    "listShipmentItems": inbound_plans.list_shipment_items,
}


def create_app(config: SimConfig, *, clock: Clock | None = None) -> web.Application:
    """A fresh simulator; ``clock`` lets tests pin the start time or move time forward."""
    sim = build_simulator(config, clock)
    app = web.Application()
    app[SIMULATOR] = sim
    app.router.add_post("/auth/o2/token", token_route(sim.lwa, sim.faults))
    app.router.add_route("GET", CONSENT_PATH, consent_route(sim.consent))  # no HEAD
    for operation_id, handler in HANDLERS.items():
        op = sim.operations[operation_id]
        app.router.add_route(op.method, op.path, sp_api_route(sim, op, handler))
    add_routes(app, sim)
    downloads.add_routes(app, sim)
    merchant_stock.add_routes(app, sim)  # the merchant's warehouse: /_sim/merchant-stock
    writes.add_routes(app, sim)  # the outbox's write operations, with the write faults
    finances_api.add_routes(app, sim)  # /_sim/truth/finances
    catalog_api.add_routes(app, sim)  # /_sim/truth/catalog
    pricing_api.add_routes(app, sim)  # /_sim/truth/prices
    fba_reports.add_routes(app, sim)  # /_sim/truth/fees, /_sim/truth/ledger
    settlement_book.add_routes(app, sim.settlements, sim.world)  # settlements: truth, reissue
    returns.add_routes(app, sim)  # /_sim/truth/returns
    inbound_plans.add_routes(app, sim)  # /_sim/truth/inbound-plans
    brand_analytics_api.add_routes(app, sim)  # /_sim/truth/search-terms, ..., brand registry
    app.cleanup_ctx.append(_change_loop)
    app.cleanup_ctx.append(_notifications)
    return app


async def _change_loop(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(app[SIMULATOR].changes.run())
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


async def _notifications(app: web.Application) -> AsyncIterator[None]:
    """The SQS sender and the finished-report watch (see :mod:`publisher`)."""
    task = asyncio.create_task(app[SIMULATOR].notifications.run())
    yield
    task.cancel()
    with suppress(asyncio.CancelledError):
        await task


async def serve(
    config: SimConfig,
    host: str,
    port: int,
    *,
    ready: Callable[[str], None] | None = None,
) -> None:
    """Serve until cancelled. ``ready`` gets the base URL once bound (real port if 0)."""
    runner = web.AppRunner(create_app(config), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        site = web.TCPSite(runner, host, port)
        await site.start()
        if ready is not None:
            ready(f"http://{host}:{_bound_port(runner, port)}")
        await asyncio.Event().wait()
    finally:
        await runner.cleanup()


def _bound_port(runner: web.AppRunner, requested: int) -> int:
    for address in runner.addresses:
        if isinstance(address, tuple) and len(address) >= 2:
            return int(address[1])
    return requested


def run(config: SimConfig, host: str, port: int) -> None:
    """Blocking: serve, announce one line on stdout, stop cleanly on SIGINT/SIGTERM."""
    asyncio.run(_run_until_signal(config, host, port))


async def _run_until_signal(config: SimConfig, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = asyncio.create_task(serve(config, host, port, ready=_announce))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({server, stopper}, return_when=asyncio.FIRST_COMPLETED)
    for task in (server, stopper):
        task.cancel()
    with suppress(asyncio.CancelledError):
        await server  # re-raises a bind error, if that is why serve() ended


def _announce(url: str) -> None:
    print(f"spsync simulator listening on {url}", file=sys.stdout, flush=True)
