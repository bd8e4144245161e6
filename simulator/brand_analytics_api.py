"""Brand Analytics' simulator routes: the truth of both report types, and a seller's Brand
Registry status.

- ``GET /_sim/truth/search-terms?seller_id=&marketplace_id=&period=WEEK&start=YYYY-MM-DD``
- ``GET /_sim/truth/search-query-performance?...&asins=A,B`` (no ``asins``: every ASIN the
  seller lists in the marketplace)
- ``POST /_sim/brand-registry`` ``{"seller_id": ..., "status": "registered" | "refused" |
  "refused-fatal"}``: ``refused`` answers createReport of these types with 403
  ``Unauthorized``, as Amazon does; ``refused-fatal`` ends the report FATAL instead.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

from aiohttp import web

from . import brand_analytics as ba
from .state import Simulator


def _bad(message: str) -> web.Response:
    return web.json_response({"error": message}, status=400)


def add_routes(app: web.Application, sim: Simulator) -> None:
    def truth_of(report_type: str) -> Any:
        async def route(request: web.Request) -> web.Response:
            q = request.query
            seller = sim.world.sellers.get(q.get("seller_id", ""))
            if seller is None:
                return _bad(f"unknown seller_id {q.get('seller_id')!r}")
            market = q.get("marketplace_id", "")
            if market not in seller.marketplace_ids:
                return _bad("marketplace_id must be one of the seller's")
            period = q.get("period", "WEEK")
            if period not in ba.PERIODS[report_type]:
                return _bad(f"period must be one of {', '.join(ba.PERIODS[report_type])}")
            try:
                first = ba.period_of(period, date.fromisoformat(q.get("start", "")))[0]
            except ValueError:
                return _bad("start must be YYYY-MM-DD")
            asins = [a for a in q.get("asins", "").split(",") if a]
            return web.json_response(ba.truth(seller, report_type, market, period, first, asins))
        return route

    async def registry(request: web.Request) -> web.Response:
        try:
            data = json.loads(await request.text() or "{}")
        except json.JSONDecodeError:
            return _bad("body must be JSON")
        seller = sim.world.sellers.get(str(data.get("seller_id", "")))
        if seller is None:
            return _bad(f"unknown seller_id {data.get('seller_id')!r}")
        status = data.get("status")
        if status not in ba.REGISTRY:
            return _bad(f"status must be one of {', '.join(ba.REGISTRY)}")
        seller.brand_registry = status
        return web.json_response({"seller_id": seller.seller_id, "status": status})

    app.router.add_get("/_sim/truth/search-terms", truth_of(ba.SEARCH_TERMS))
    app.router.add_get("/_sim/truth/search-query-performance",
                       truth_of(ba.SEARCH_QUERY_PERFORMANCE))
    app.router.add_post("/_sim/brand-registry", registry)
