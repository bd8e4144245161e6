"""getCompetitiveSummary (Product Pricing 2022-05-01), a batch of 20, against the model."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulator.spec import all_operations

from .simkit import MakeSim, Sim, schema_errors

MODEL = "productPricing_2022-05-01"
PATH = "/batches/products/pricing/2022-05-01/items/competitiveSummary"
URI = "/products/pricing/2022-05-01/items/competitiveSummary"
DATA = ["featuredBuyingOptions", "referencePrices", "lowestPricedOffers"]


def test_the_usage_plan_comes_from_the_model() -> None:
    op = all_operations()["getCompetitiveSummary"]
    assert (op.method, op.rate, op.burst) == ("POST", Decimal("0.033"), 1)


async def _post(sim: Sim, token: str, body: Any) -> tuple[int, Any]:
    resp = await sim.client.post(PATH, json=body, headers={"x-amz-access-token": token})
    return resp.status, await resp.json()


def _request(asin: str, market: str) -> dict[str, Any]:
    return {"asin": asin, "marketplaceId": market, "includedData": DATA, "method": "GET",
            "uri": URI, "lowestPricedOffersInputs": [
                {"itemCondition": "New", "offerType": "Consumer"}]}


async def test_a_batch_answers_each_request_and_prices_move_by_the_hour(make_sim: MakeSim):
    sim = await make_sim()
    seller, token = await sim.seller(), await sim.access_token()
    market = seller["marketplace_ids"][0]
    orders = await sim.truth(seller["selling_partner_id"])
    asins = sorted({i["ASIN"] for o in orders for i in o["OrderItems"]})[:3]
    status, body = await _post(sim, token, {"requests": [
        *(_request(a, market) for a in asins), _request("B0NOSUCH00", market)]})
    assert status == 200, body
    assert schema_errors(MODEL, "CompetitiveSummaryBatchResponse", body) == []
    codes = [r["status"]["statusCode"] for r in body["responses"]]
    assert codes == [200, 200, 200, 400]
    assert body["responses"][3]["body"]["errors"][0]["code"] == "INVALID_ASIN"
    first = body["responses"][0]["body"]
    featured = first["featuredBuyingOptions"][0]["segmentedFeaturedOffers"][0]
    lowest = first["lowestPricedOffers"][0]["offers"]
    assert featured["listingPrice"] == lowest[0]["listingPrice"]  # the cheapest is featured
    assert [o["listingPrice"]["amount"] for o in lowest] == sorted(
        o["listingPrice"]["amount"] for o in lowest)
    assert seller["selling_partner_id"] in {o["sellerId"] for o in lowest}

    before = [r["body"]["lowestPricedOffers"][0]["offers"] for r in body["responses"][:3]]
    sim.clock.advance(3 * 3600)  # prices move with the hour (and the bucket refills)
    token = await sim.access_token()  # the old one expired meanwhile
    status, body = await _post(sim, token, {"requests": [_request(a, market) for a in asins]})
    assert status == 200
    after = [r["body"]["lowestPricedOffers"][0]["offers"] for r in body["responses"]]
    assert after != before


async def test_more_than_20_requests_or_a_bad_request_is_refused(make_sim: MakeSim):
    sim = await make_sim()
    seller, token = await sim.seller(), await sim.access_token()
    market = seller["marketplace_ids"][0]
    for bad in ({"requests": [_request(f"B{i:09d}", market) for i in range(21)]},
                {"requests": [{"asin": "B000000001", "marketplaceId": market}]},
                {"requests": []}):
        sim.clock.advance(60)  # burst 1: each call its own token
        status, body = await _post(sim, token, bad)
        assert status == 400, (bad, body)
        assert body["errors"][0]["code"] == "InvalidInput"
