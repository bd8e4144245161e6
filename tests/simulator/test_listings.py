"""Listings Items API: bodies per the model, access rules, search filters and paging."""

from __future__ import annotations

from typing import Any

from .simkit import MakeSim, Sim, schema_errors

MODEL = "listingsItems_2021-08-01"
ALL_DATA = "summaries,attributes,issues,offers,fulfillmentAvailability,procurement," \
           "relationships,productTypes"


async def _setup(sim: Sim, index: int = 0) -> tuple[str, str, list[str], list[dict[str, Any]]]:
    seller = await sim.seller(index)
    spid = seller["selling_partner_id"]
    resp = await sim.client.get("/_sim/truth/listings", params={"seller_id": spid})
    truth = (await resp.json())["listings"]
    return await sim.access_token(index), spid, seller["marketplace_ids"], truth


def _path(spid: str, sku: str | None = None) -> str:
    base = f"/listings/2021-08-01/items/{spid}"
    return f"{base}/{sku}" if sku else base


async def test_get_listings_item_validates_with_every_dataset(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5, sellers=4)
    token, spid, markets, truth = await _setup(sim, 3)  # US + CA
    with_issue = next(t for t in truth if t["issues"])
    for sku in {truth[0]["sku"], with_issue["sku"]}:
        for included in (None, ALL_DATA):
            params = {"marketplaceIds": ",".join(markets)}
            if included:
                params["includedData"] = included
            status, body, headers = await sim.get(_path(spid, sku), token, params)
            assert status == 200 and schema_errors(MODEL, "Item", body) == []
            assert headers["x-amzn-RateLimit-Limit"] == "5"
            assert body["sku"] == sku
            assert [s["marketplaceId"] for s in body["summaries"]] == markets
            assert set(body) == ({"sku", "summaries"} if not included else
                                 {"sku", "summaries", "attributes", "issues", "offers",
                                  "fulfillmentAvailability", "relationships", "productTypes"})
    _, body, _ = await sim.get(_path(spid, with_issue["sku"]), token,
                               {"marketplaceIds": markets[0], "includedData": "issues,offers"})
    assert [(i["code"], i["severity"]) for i in body["issues"]] == [
        (i["code"], i["severity"]) for i in with_issue["issues"]]
    assert body["offers"][0]["price"]["amount"] == with_issue["price"]


async def test_access_rules_and_errors(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token, spid, markets, truth = await _setup(sim)
    other = (await sim.seller(1))["selling_partner_id"]
    cases = [
        (_path(other, truth[0]["sku"]), {"marketplaceIds": markets[0]}, 403),
        (_path(spid, "NOPE-404"), {"marketplaceIds": markets[0]}, 404),
        (_path(spid, truth[0]["sku"]), {"marketplaceIds": "A1PA6795UKMFR9"}, 400),
        (_path(spid, truth[0]["sku"]), {}, 400),
        (_path(spid, truth[0]["sku"]), {"marketplaceIds": markets[0], "includedData": "x"}, 400),
        (_path(spid), {"marketplaceIds": markets[0], "pageSize": 21}, 400),
        (_path(spid), {"marketplaceIds": markets[0], "pageSize": 0}, 400),
        (_path(spid), {"marketplaceIds": markets[0], "identifiers": "X"}, 400),
        (_path(spid), {"marketplaceIds": markets[0], "sortBy": "price"}, 400),
        (_path(other), {"marketplaceIds": markets[0]}, 403),
    ]
    for path, params, expected in cases:
        status, body, _ = await sim.get(path, token, params)
        assert status == expected, (path, params, body)
        assert schema_errors(MODEL, "ErrorList", body) == []


async def test_search_pages_every_listing_once(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token, spid, markets, truth = await _setup(sim)
    for sort_by, order in (("lastUpdatedDate", "DESC"), ("sku", "ASC")):
        params: dict[str, Any] = {"marketplaceIds": markets[0], "pageSize": 7,
                                  "sortBy": sort_by, "sortOrder": order}
        seen: list[str] = []
        while True:
            sim.clock.advance(1)  # searchListingsItems: 5 requests/s, burst 5
            status, body, _ = await sim.get(_path(spid), token, params)
            assert status == 200 and schema_errors(MODEL, "ItemSearchResults", body) == []
            assert body["numberOfResults"] == len(truth)
            seen += [i["sku"] for i in body["items"]]
            if "nextToken" not in body.get("pagination", {}):
                break
            params = {**params, "pageToken": body["pagination"]["nextToken"],
                      "includedData": "summaries,issues"}
        assert sorted(seen) == sorted(t["sku"] for t in truth) and len(seen) == len(set(seen))
        if sort_by == "sku":
            assert seen == sorted(seen)
    changed = {**params, "withStatus": "BUYABLE"}
    assert (await sim.get(_path(spid), token, changed))[0] == 400


async def test_search_filters(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token, spid, markets, truth = await _setup(sim)
    base = {"marketplaceIds": markets[0], "pageSize": 20}

    async def skus(**filters: str) -> set[str]:
        sim.clock.advance(1)  # stay within the 5/s quota
        status, body, _ = await sim.get(_path(spid), token, {**base, **filters})
        assert status == 200, body
        assert body["numberOfResults"] <= 20  # every filter below stays within one page
        return {i["sku"] for i in body["items"]}

    errors = {t["sku"] for t in truth if any(i["severity"] == "ERROR" for i in t["issues"])}
    assert errors and await skus(withIssueSeverity="ERROR") == errors
    assert await skus(withoutStatus="BUYABLE") == errors
    picked = [t for t in truth[:3]]
    assert await skus(identifiersType="SKU",
                      identifiers=",".join(t["sku"] for t in picked)) == {
        t["sku"] for t in picked}
    assert await skus(identifiersType="ASIN", identifiers=picked[0]["asin"]) == {
        picked[0]["sku"]}
    assert await skus(identifiersType="EAN", identifiers="4006381333931") == set()
    assert await skus(variationParentSku=picked[0]["sku"]) == set()
    assert await skus(lastUpdatedAfter=sim.recent(0)) == set()
    _, changed = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 2,
                                                 "kind": "listings"})
    assert await skus(lastUpdatedAfter=sim.recent(1)) == set(changed["changed"])
