"""Product Pricing 2022-05-01 ``getCompetitiveSummary`` (a batch of up to 20 requests) and
``/_sim/truth/prices``.

The body is checked against ``CompetitiveSummaryBatchRequest`` (20 requests at most, each
with ``asin``, ``marketplaceId``, ``includedData``, ``method``, ``uri``). Each request gets
its own status: 200 with the item's competitive summary for an ASIN of the world's catalog
(:func:`catalog_api.catalog_of`) in a known marketplace, 400 ``INVALID_ASIN`` otherwise, as
the model's example answers an unknown ASIN.

A summary is a pure function of the seed, the ASIN, the marketplace and the simulated hour:
the seller that lists the ASIN offers it at its listing price, two other sellers within 10 %
of it at prices that move every hour; the featured offer is the cheapest (ties: the lister),
the lowest ``New``/``Consumer`` offers are all three, cheapest first, and the
``CompetitivePrice`` reference price is the featured offer's price.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from aiohttp import web

from . import bodies
from .catalog_api import catalog_of
from .gateway import Call
from .marketplaces import BY_ID
from .state import Simulator

HOUR = 3_600
MODEL = "productPricing_2022-05-01"
OTHERS = ("A1OTHERSELLER01", "A2OTHERSELLER02")


def _number(*parts: object) -> int:
    return int.from_bytes(hashlib.blake2b(":".join(map(str, parts)).encode(),
                                          digest_size=8).digest(), "big")


def offers(sim: Simulator, asin: str, marketplace_id: str, now: float) -> list[dict[str, Any]]:
    """Every offer of the ASIN now, cheapest first (the lister first among equals)."""
    entry = catalog_of(sim.world)[asin]
    market = BY_ID[marketplace_id]
    lister = next(s.seller_id for s in sim.world.sellers.values() if asin in
                  {e.asin for e in s.skus.values()})
    own = market.price(entry.usd_price)
    hour = int(now // HOUR)
    found = [(own, 0, lister, entry.channel)]
    for rank, seller in enumerate(OTHERS, start=1):
        swing = Decimal(_number(sim.config.seed, asin, marketplace_id, seller, hour) % 21 - 10)
        price = (own * (1 + swing / 100)).quantize(Decimal("0.01"))
        found.append((price, rank, seller, "MFN"))
    found.sort(key=lambda o: (o[0], o[1]))
    return [{"sellerId": seller, "condition": "New", "fulfillmentType": channel,
             "listingPrice": {"amount": float(price), "currencyCode": market.currency},
             "shippingOptions": [{"shippingOptionType": "DEFAULT", "price": {
                 "amount": 0.0, "currencyCode": market.currency}}]}
            for price, _, seller, channel in found]


def summary(sim: Simulator, asin: str, marketplace_id: str, now: float,
            included: list[str]) -> dict[str, Any]:
    listed = offers(sim, asin, marketplace_id, now)
    body: dict[str, Any] = {"asin": asin, "marketplaceId": marketplace_id}
    if "featuredBuyingOptions" in included:
        body["featuredBuyingOptions"] = [{"buyingOptionType": "New", "segmentedFeaturedOffers": [
            {**listed[0], "featuredOfferSegments": [{"customerMembership": "DEFAULT",
                                                     "segmentDetails": {
                                                         "glanceViewWeightPercentage": 100}}]}]}]
    if "referencePrices" in included:
        body["referencePrices"] = [{"name": "CompetitivePrice",
                                    "price": listed[0]["listingPrice"]}]
    if "lowestPricedOffers" in included:
        body["lowestPricedOffers"] = [{"lowestPricedOffersInput": {
            "itemCondition": "New", "offerType": "Consumer"}, "offers": listed}]
    return body


def get_competitive_summary(call: Call) -> dict[str, Any]:
    spec = bodies.parse(MODEL, call.op.body or "", call.body)
    known = catalog_of(call.sim.world)
    responses = []
    for request in spec["requests"]:
        asin, market = request["asin"], request["marketplaceId"]
        if asin in known and market in BY_ID:
            responses.append({"status": {"statusCode": 200, "reasonPhrase": "Success"},
                              "body": summary(call.sim, asin, market, call.now,
                                              request["includedData"])})
        else:
            responses.append({"status": {"statusCode": 400, "reasonPhrase": "Client Error"},
                              "body": {"asin": asin, "marketplaceId": market, "errors": [
                                  {"code": "INVALID_ASIN",
                                   "message": f"{asin[:40]} is not a valid ASIN"}]}})
    return {"responses": responses}


def add_routes(app: web.Application, sim: Simulator) -> None:
    async def truth(request: web.Request) -> web.Response:
        """``{"offers": {asin: [...]}}``: every offer of each of ``asins`` (comma-separated)
        in ``marketplace_id`` now, cheapest first, as getCompetitiveSummary lists them."""
        market = request.query.get("marketplace_id", "")
        known = catalog_of(sim.world)
        asins = [a for a in request.query.get("asins", "").split(",") if a in known]
        if market not in BY_ID:
            return web.json_response({"error": f"unknown marketplace_id {market!r}"},
                                     status=400)
        return web.json_response({"offers": {
            a: offers(sim, a, market, sim.clock.now()) for a in asins}})

    app.router.add_get("/_sim/truth/prices", truth)
