"""getInventorySummaries: model shapes, paging, startDateTime, changes, truth."""

from __future__ import annotations

from typing import Any

from .simkit import MakeSim, schema_errors

PATH = "/fba/inventory/v1/summaries"
MODEL = "fbaInventoryV1"


async def _market(sim: Any) -> str:
    return str((await sim.seller(0))["marketplace_ids"][0])


def _params(market: str, **extra: str) -> dict[str, str]:
    return {"granularityType": "Marketplace", "granularityId": market,
            "marketplaceIds": market, "details": "true", **extra}


async def test_every_sku_once_across_pages_and_bodies_follow_the_model(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token, market = await sim.access_token(), await _market(sim)
    seen: list[str] = []
    params = _params(market)
    while True:
        status, body, _ = await sim.get(PATH, token, params)
        assert status == 200 and not schema_errors(MODEL, "GetInventorySummariesResponse", body)
        seen += [s["sellerSku"] for s in body["payload"]["inventorySummaries"]]
        nxt = body.get("pagination", {}).get("nextToken")
        if not nxt:
            break
        params = _params(market, nextToken=nxt)
    truth = await (await sim.client.get("/_sim/truth/inventory",
                                        params={"seller_id": (await sim.seller(0))[
                                            "selling_partner_id"]})).json()
    expected = sorted(i["sellerSku"] for i in truth["inventory"] if i["marketplaceId"] == market)
    assert sorted(seen) == expected and len(seen) == len(set(seen)) and len(seen) > 0


async def test_start_date_time_returns_only_changed_skus(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token, market = await sim.access_token(), await _market(sim)
    seller_id = (await sim.seller(0))["selling_partner_id"]
    code, changed = await sim.post("/_sim/mutate", {"seller_id": seller_id, "count": 3,
                                                    "kind": "inventory"})
    assert code == 200 and len(changed["changed"]) == 3
    status, body, _ = await sim.get(PATH, token, _params(market, startDateTime=sim.recent(1)))
    assert status == 200
    got = {s["sellerSku"] for s in body["payload"]["inventorySummaries"]}
    assert got and got <= set(changed["changed"])


async def test_granularity_and_marketplace_must_agree(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token, market = await sim.access_token(), await _market(sim)
    status, body, _ = await sim.get(PATH, token, {**_params(market),
                                                  "marketplaceIds": "A1PA6795UKMFR9"})
    assert status == 400 and "marketplaceIds" in body["errors"][0]["message"]
    status, _, _ = await sim.get(PATH, token, {"granularityType": "Marketplace",
                                               "marketplaceIds": market})
    assert status == 400  # granularityId is required by the model
