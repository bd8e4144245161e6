"""A warehouse management system (WMS) stand-in: the REST API the order-to-warehouse recipe
(``docs/recipes/order-to-warehouse.md``) hands orders to and reads shipments from.

    python -m devtools.wms_stub --port 8081

``POST /orders``
    ``{"order_id", "seller", "marketplace_id", "items": [{"order_item_id", "sku",
    "quantity"}]}`` (other keys are kept as given). ``201`` the first time, ``200
    {"duplicate": true}`` for an order already received (idempotent by ``order_id``; each
    repeat is counted, so a test sees an order handed over twice), ``400`` with one line for
    a body that is not such an order.
``GET /orders``
    Every order received, oldest first: the order plus ``received_at`` (epoch seconds, this
    host's clock) and ``receipts``.
``GET /shipments?after=N``
    The orders packed so far, in packing order, after sequence number ``N`` (default 0), at
    most 500: ``{"seq", "order_id", "seller", "marketplace_id", "carrier_code",
    "tracking_number", "shipped_at", "items": [{"order_item_id", "quantity"}]}``.

An order is packed ``pack_seconds`` after it was received (a made-up tracking number,
carrier ``UPS``). Everything lives in memory; this is a stand-in, not a WMS.
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

MAX_BODY = 256 * 1024
PAGE = 500
CARRIER = "UPS"


class BadOrder(ValueError):
    pass


@dataclass
class _State:
    pack_seconds: float
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    shipments: list[dict[str, Any]] = field(default_factory=list)


def _text(body: dict[str, Any], key: str, limit: int = 200) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value or len(value) > limit:
        raise BadOrder(f"{key} must be a non-empty string of at most {limit} characters")
    return value


def _order(body: Any) -> dict[str, Any]:
    """The posted order, checked; raises :class:`BadOrder` with one line."""
    if not isinstance(body, dict):
        raise BadOrder("the body must be a JSON object")
    for key in ("order_id", "seller", "marketplace_id"):
        _text(body, key)
    items = body.get("items")
    if not isinstance(items, list) or not items or len(items) > 1000:
        raise BadOrder("items must be a non-empty list")
    for item in items:
        if not isinstance(item, dict):
            raise BadOrder("each item must be an object")
        _text(item, "order_item_id")
        quantity = item.get("quantity")
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise BadOrder("each item's quantity must be a positive integer")
    return body


def make_app(pack_seconds: float = 1.0) -> web.Application:
    state = _State(pack_seconds)

    async def post_order(request: web.Request) -> web.Response:
        try:
            order = _order(await request.json())
        except (ValueError, UnicodeDecodeError) as exc:
            message = str(exc) if isinstance(exc, BadOrder) else "the body must be JSON"
            return web.json_response({"error": message}, status=400)
        known = state.orders.get(order["order_id"])
        if known is not None:
            known["receipts"] += 1
            return web.json_response({"duplicate": True}, status=200)
        state.orders[order["order_id"]] = {**order, "received_at": time.time(), "receipts": 1}
        asyncio.get_running_loop().call_later(state.pack_seconds, _pack, state,
                                              order["order_id"])
        return web.json_response({"accepted": order["order_id"]}, status=201)

    async def get_orders(request: web.Request) -> web.Response:
        return web.json_response(list(state.orders.values()))

    async def get_shipments(request: web.Request) -> web.Response:
        raw = request.query.get("after", "0")
        if not (raw.isascii() and raw.isdigit()) or len(raw) > 18:
            return web.json_response({"error": "after must be a non-negative integer"},
                                     status=400)
        after = int(raw)
        return web.json_response(state.shipments[after:after + PAGE])

    app = web.Application(client_max_size=MAX_BODY)
    app.router.add_post("/orders", post_order)
    app.router.add_get("/orders", get_orders)
    app.router.add_get("/shipments", get_shipments)
    return app


def _pack(state: _State, order_id: str) -> None:
    order = state.orders[order_id]
    seq = len(state.shipments) + 1
    state.shipments.append({
        "seq": seq, "order_id": order_id, "seller": order["seller"],
        "marketplace_id": order["marketplace_id"], "carrier_code": CARRIER,
        "tracking_number": f"1ZWMS{seq:012d}", "shipped_at": time.time(),
        "items": [{"order_item_id": i["order_item_id"], "quantity": i["quantity"]}
                  for i in order["items"]]})


class WmsStub:
    """The stub served from a thread of its own (its own event loop), for the demo, the
    benchmark and tests: ``with WmsStub() as url: ...``."""

    def __init__(self, pack_seconds: float = 1.0, host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self._app = make_app(pack_seconds)
        self._host, self._port = host, port
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="wms-stub")
        self._runner = web.AppRunner(self._app, access_log=None)
        self.url = ""

    def __enter__(self) -> str:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self.url

    async def _start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://{self._host}:{port}"

    def __exit__(self, *_: object) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8081)
    ap.add_argument("--pack-seconds", type=float, default=1.0)
    args = ap.parse_args(argv)
    print(f"WMS stub listening on http://{args.host}:{args.port}", flush=True)
    web.run_app(make_app(args.pack_seconds), host=args.host, port=args.port, print=None,
                access_log=None)


if __name__ == "__main__":
    main()
