"""The orders stream: what to ask, how to page, how to map, where the cursor goes.

Two declarations of one stream — Orders 2026-01-01 ``searchOrders`` (default; items embedded)
and the deprecated v0 ``getOrders`` (+ ``getOrderItems`` per changed order) — run by one loop.
Each page's rows and the checkpoint that follows them commit in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from sqlalchemy import Connection

from worker.db import mirror, state
from worker.db.rows import ItemRow, OrderRow
from worker.db.sellers import SellerRecord
from worker.db.state import Checkpoint
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import InputError, MalformedResponseError
from worker.sync.orders_mapping import map_item_v0, map_order_2026, map_order_v0
from worker.sync.windows import Window, WindowPolicy, iso, next_window

log = structlog.get_logger(__name__)

STREAM = "orders"
INCLUDED_DATA = ["FULFILLMENT", "PROCEEDS"]  # never BUYER/RECIPIENT: no PII in the mirror


@dataclass(frozen=True)
class OrdersApi:
    """One API version's way to list orders changed in a window."""

    version: str
    operation: str
    token_param: str
    query: Callable[[Window, SellerRecord, int], dict[str, Any]]
    page: Callable[[Any], tuple[list[Any], str | None]]
    fetch_items: bool  # v0 lists orders without items


def _query_2026(w: Window, seller: SellerRecord, size: int) -> dict[str, Any]:
    return {"lastUpdatedAfter": iso(w.start), "lastUpdatedBefore": iso(w.end),
            "marketplaceIds": seller.marketplace_ids, "maxResultsPerPage": size,
            "includedData": INCLUDED_DATA}


def _query_v0(w: Window, seller: SellerRecord, size: int) -> dict[str, Any]:
    return {"LastUpdatedAfter": iso(w.start), "LastUpdatedBefore": iso(w.end),
            "MarketplaceIds": seller.marketplace_ids, "MaxResultsPerPage": size}


def _page_2026(body: Any) -> tuple[list[Any], str | None]:
    if not isinstance(body, dict) or not isinstance(body.get("orders"), list):
        raise MalformedResponseError("searchOrders response has no 'orders' list")
    pagination = body.get("pagination") or {}
    return body["orders"], _token(pagination.get("nextToken") if isinstance(pagination, dict)
                                  else None)


def _page_v0(body: Any) -> tuple[list[Any], str | None]:
    payload = body.get("payload") if isinstance(body, dict) else None
    if not isinstance(payload, dict) or not isinstance(payload.get("Orders"), list):
        raise MalformedResponseError("getOrders response has no payload.Orders list")
    return payload["Orders"], _token(payload.get("NextToken"))


def _token(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedResponseError("pagination token is not a string")
    return value


APIS = {
    "2026-01-01": OrdersApi("2026-01-01", "searchOrders", "paginationToken",
                            _query_2026, _page_2026, fetch_items=False),
    "v0": OrdersApi("v0", "getOrders", "NextToken", _query_v0, _page_v0, fetch_items=True),
}


@dataclass
class Totals:
    pages: int = 0
    orders: int = 0
    items: int = 0
    windows: int = 0


@dataclass
class OrdersSync:
    """One run of the orders stream for one seller, on a connection holding its lock."""

    conn: Connection
    client: SpApiClient
    seller: SellerRecord
    run_id: int
    policy: WindowPolicy
    page_size: int
    now: Callable[[], datetime]
    totals: Totals = field(default_factory=Totals)
    _reported: tuple[int, int] = (0, 0)  # client calls/429s already added to the run row

    @property
    def auth(self) -> SellerAuth:
        return SellerAuth(self.seller.selling_partner_id, self.seller.region,
                          self.seller.refresh_token or "")

    async def run(self) -> Totals:
        api = APIS[self.seller.orders_api_version]
        with self.conn.begin():
            cp = state.load_checkpoint(self.conn, self.seller.id, STREAM)
        token_restarted = False
        started = self.now()  # the cursor never passes the run's start: every run ends
        while True:
            if cp.window_start is None or cp.window_end is None:
                w = next_window(cp.cursor, started, self.policy)
                if w is None:
                    return self.totals
                cp = Checkpoint(cp.cursor, w.start, w.end, None)
                self.totals.windows += 1
            window = Window(cp.window_start, cp.window_end)  # type: ignore[arg-type]
            try:
                body = await self._fetch(api, window, cp.next_token)
            except InputError as exc:
                if cp.next_token is None or token_restarted or isinstance(
                        exc, MalformedResponseError):
                    raise
                # Tokens expire (24 h) or get rejected: re-read the window from its start.
                log.warning("orders.token_rejected", seller=self.seller.selling_partner_id,
                            code=exc.code)
                token_restarted = True
                cp = Checkpoint(cp.cursor, cp.window_start, cp.window_end, None)
                continue
            cp = await self._store_page(api, body, cp)

    async def _fetch(self, api: OrdersApi, window: Window, token: str | None) -> Any:
        query = api.query(window, self.seller, self.page_size)
        if token:
            query[api.token_param] = token
        return (await self.client.call(self.auth, api.operation, query=query)).body

    async def _store_page(self, api: OrdersApi, body: Any, cp: Checkpoint) -> Checkpoint:
        records, token = api.page(body)
        orders, items, fetched = await self._rows(api, records)
        done = token is None
        after = Checkpoint(
            cursor=cp.window_end if done else cp.cursor,
            window_start=None if done else cp.window_start,
            window_end=None if done else cp.window_end,
            next_token=token,
        )
        with self.conn.begin():
            written = mirror.upsert_orders(self.conn, self.seller.id, orders)
            replace_for = written if fetched is None else written & fetched
            n_items = mirror.replace_items(self.conn, self.seller.id, replace_for, items)
            state.save_checkpoint(self.conn, self.seller.id, STREAM, after)
            state.add_to_run(self.conn, self.run_id, pages=1, orders=len(written), items=n_items,
                             **self._call_counts())
        self.totals.pages += 1
        self.totals.orders += len(written)
        self.totals.items += n_items
        log.info("orders.page", seller=self.seller.selling_partner_id, records=len(records),
                 written=len(written), items=n_items, more=not done)
        return after

    def _call_counts(self) -> dict[str, int]:
        """Calls and 429s since the last page, so the run row shows live progress."""
        stats = self.client.stats
        calls, throttled = stats.calls - self._reported[0], stats.throttled - self._reported[1]
        self._reported = (stats.calls, stats.throttled)
        return {"api_calls": calls, "throttled": throttled}

    async def _rows(
        self, api: OrdersApi, records: list[Any]
    ) -> tuple[list[OrderRow], list[ItemRow], set[str] | None]:
        """Map a page; for v0, fetch items of the orders that changed (None = all embedded)."""
        if not api.fetch_items:
            pairs = [map_order_2026(r) for r in records]
            return [o for o, _ in pairs], [i for _, its in pairs for i in its], None
        orders = [map_order_v0(r) for r in records]
        with self.conn.begin():
            changed = mirror.orders_needing_items(self.conn, self.seller.id, orders)
        items: list[ItemRow] = []
        for order in changed:
            items.extend(await self._items_v0(order.amazon_order_id))
        return orders, items, {o.amazon_order_id for o in changed}

    async def _items_v0(self, order_id: str) -> list[ItemRow]:
        items: list[ItemRow] = []
        token: str | None = None
        while True:
            query = {"NextToken": token} if token else None
            body = (await self.client.call(self.auth, "getOrderItems",
                                           path_params={"orderId": order_id}, query=query)).body
            payload = body.get("payload") if isinstance(body, dict) else None
            if not isinstance(payload, dict) or not isinstance(payload.get("OrderItems"), list):
                raise MalformedResponseError("getOrderItems response has no payload.OrderItems")
            items.extend(map_item_v0(order_id, i) for i in payload["OrderItems"])
            token = _token(payload.get("NextToken"))
            if token is None:
                return items
