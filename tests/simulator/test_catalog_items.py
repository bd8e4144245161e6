"""searchCatalogItems (Catalog Items 2022-04-01) by ASIN, against the model and the truth."""

from __future__ import annotations

from decimal import Decimal

from simulator.spec import all_operations

from .simkit import MakeSim, schema_errors

MODEL, ITEMS = "catalogItems_2022-04-01", "/catalog/2022-04-01/items"
ALL = "summaries,classifications,dimensions,identifiers,images,productTypes,salesRanks"


def test_the_usage_plan_comes_from_the_model() -> None:
    op = all_operations()["searchCatalogItems"]
    assert (op.rate, op.burst) == (Decimal("2"), 2)


async def test_identifier_search_returns_the_known_asins_in_the_model_shape(make_sim: MakeSim):
    sim = await make_sim()
    seller, token = await sim.seller(), await sim.access_token()
    market = seller["marketplace_ids"][0]
    orders = await sim.truth(seller["selling_partner_id"])
    asins = sorted({i["ASIN"] for o in orders for i in o["OrderItems"]})[:5]
    assert asins
    query = {"identifiers": ",".join([*asins, "B0NOSUCH00"]), "identifiersType": "ASIN",
             "marketplaceIds": market, "includedData": ALL}
    status, body, _ = await sim.get(ITEMS, token, query)
    assert status == 200, body
    assert schema_errors(MODEL, "ItemSearchResults", body) == []
    assert [i["asin"] for i in body["items"]] == asins  # the unknown one is left out
    assert body["numberOfResults"] == len(body["items"])
    for item in body["items"]:
        assert item["summaries"][0]["marketplaceId"] == market
        assert item["salesRanks"][0]["classificationRanks"][0]["rank"] > 0
    plain = dict(query)
    del plain["includedData"]
    sim.clock.advance(1)
    status, body, _ = await sim.get(ITEMS, token, plain)
    assert status == 200 and all(set(i) == {"asin", "summaries"} for i in body["items"])


async def test_bad_searches_are_refused(make_sim: MakeSim):
    sim = await make_sim()
    seller, token = await sim.seller(), await sim.access_token()
    market = seller["marketplace_ids"][0]
    for query in ({"identifiers": "B000000001", "marketplaceIds": market},  # no type
                  {"identifiers": ",".join(f"B{i:09d}" for i in range(21)),
                   "identifiersType": "ASIN", "marketplaceIds": market},  # > 20
                  {"identifiers": "X", "identifiersType": "SKU", "marketplaceIds": market},
                  {"keywords": "pan", "marketplaceIds": market}):
        sim.clock.advance(1)  # a burst of 2: each call its own token
        status, body, _ = await sim.get(ITEMS, token, query)
        assert status == 400, (query, body)
        assert body["errors"][0]["code"] == "InvalidInput"
