"""The inbound stream (Fulfillment Inbound 2024-03-20): the seller's inbound plans, their
shipments and the shipments' items.

``listInboundPlans`` has no date filter: the stream asks it newest first by last update
(``sortBy=LAST_UPDATED_TIME``, ``sortOrder=DESC``) and the runner ends a window at the first
plan last updated before the window's start (``paging.NewestFirst``). Plans are not per
marketplace (the list takes no marketplace): one stream per seller.

Each listed plan is read again whole in the page's ``rows`` step: ``getInboundPlan`` (its
shipments), then per shipment ``getShipment`` and every page of ``listShipmentItems``. All
go through the client, so each operation's token bucket paces them; the page's plans,
shipments and items are written with its checkpoint, in one transaction.

A plan updated while a run pages moves to the front of the list. The pages still to come
shift back (a plan may be read twice, which rewrites nothing); the moved plan itself may
be missed by this run, but its new ``lastUpdatedAt`` is later than the run's start, so
later than the cursor this run leaves: the next run's window (which starts ``overlap``
before that cursor) reads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any

from sqlalchemy import Connection

from worker.db import inbound as store
from worker.db.rows import InboundItemRow, InboundPlanRow, InboundShipmentRow
from worker.db.sellers import SellerRecord
from worker.sync import paging
from worker.sync.endpoint import Scope, Written
from worker.sync.inbound_mapping import map_item, map_plan, map_shipment, shipment_ids
from worker.sync.paging import Query, TokenPaginator

PAGE_SIZE = 30  # listInboundPlans: at most 30
ITEMS_PAGE_SIZE = 1000  # listShipmentItems: at most 1000
ITEM_PAGES = partial(TokenPaginator, "paginationToken", ("pagination", "nextToken"))
NEWEST_FIRST = paging.NewestFirst(("lastUpdatedAt",))


@dataclass(frozen=True)
class InboundPage:
    plans: list[InboundPlanRow]
    shipments: list[InboundShipmentRow] = field(default_factory=list)
    items: list[InboundItemRow] = field(default_factory=list)


def query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    return {"sortBy": "LAST_UPDATED_TIME", "sortOrder": "DESC", "pageSize": size}


async def plan_rows(scope: Scope, records: list[Any]) -> InboundPage:
    """Each listed plan read whole: the plan, its shipments and their items."""
    page = InboundPage([])
    for summary in records:
        plan_id = map_plan(summary).inbound_plan_id
        body = await _get(scope, "getInboundPlan", {"inboundPlanId": plan_id})
        plan = map_plan(body)
        page.plans.append(plan)
        for shipment_id in shipment_ids(body):
            at = {"inboundPlanId": plan_id, "shipmentId": shipment_id}
            page.shipments.append(map_shipment(plan, await _get(scope, "getShipment", at)))
            page.items.extend([map_item(plan_id, shipment_id, item)
                               for item in await _items(scope, at)])
    return page


async def _get(scope: Scope, operation: str, path: dict[str, str],
               query: Query | None = None) -> Any:
    return (await scope.client.call(scope.auth, operation, path_params=path,
                                    query=query or {})).body


async def _items(scope: Scope, path: dict[str, str]) -> list[Any]:
    async def fetch(q: Query) -> Any:
        return await _get(scope, "listShipmentItems", path, q)

    return [item async for body in paging.pages(fetch, {"pageSize": ITEMS_PAGE_SIZE},
                                                 ITEM_PAGES())
            for item in paging.records(body, ("items",), "listShipmentItems")]


def write(conn: Connection, seller_id: int, page: InboundPage) -> Written:
    """Newer plans win; their shipments are rewritten (one the plan no longer lists is
    deleted, with its items) and their items replaced (an item gone from a shipment is
    deleted)."""
    written = store.upsert_plans(conn, seller_id, page.plans)
    shipments = [s for s in page.shipments if s.inbound_plan_id in written]
    store.drop_vanished_shipments(conn, seller_id, written, shipments)
    store.upsert_shipments(conn, seller_id, shipments)
    items = store.replace_items(conn, seller_id, {s.shipment_id for s in shipments},
                                page.items)
    return Written(len(written), len(shipments) + items)
