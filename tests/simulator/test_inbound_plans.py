"""The Fulfillment Inbound reads in the simulator: the model's shapes and usage plans, the
list newest first (or as asked) and paged, plans that move on over simulated time."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from simulator.spec import all_operations

from .simkit import MakeSim, Sim, schema_errors

MODEL = "fulfillmentInbound_2024-03-20"
PLANS = "/inbound/fba/2024-03-20/inboundPlans"


def test_usage_plans_come_from_the_model() -> None:
    ops = all_operations()
    assert {k: (ops[k].rate, ops[k].burst) for k in (
        "listInboundPlans", "getInboundPlan", "getShipment", "listShipmentItems")} == {
        "listInboundPlans": (Decimal(2), 6), "getInboundPlan": (Decimal(2), 6),
        "getShipment": (Decimal(2), 6), "listShipmentItems": (Decimal(2), 30)}


async def _all(sim: Sim, token: str, **query: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    params: dict[str, Any] = {"pageSize": 2, **query}
    while True:
        status, body, _ = await sim.get(PLANS, token, params)
        assert status == 200, body
        assert schema_errors(MODEL, "ListInboundPlansResponse", body) == []
        assert len(body["inboundPlans"]) <= 2
        out.extend(body["inboundPlans"])
        following = body.get("pagination", {}).get("nextToken")
        if not following:
            return out
        params = {**params, "paginationToken": following}


async def test_plans_list_newest_first_page_and_filter(make_sim: MakeSim) -> None:
    sim = await make_sim(time_scale=1000)  # the quota refills in no time
    token = await sim.access_token()
    plans = await _all(sim, token, sortBy="LAST_UPDATED_TIME", sortOrder="DESC")
    stamps = [p["lastUpdatedAt"] for p in plans]
    assert len(plans) >= 5 and stamps == sorted(stamps, reverse=True)
    oldest_first = await _all(sim, token, sortBy="CREATION_TIME", sortOrder="ASC")
    assert [p["createdAt"] for p in oldest_first] == sorted(p["createdAt"] for p in plans)
    shipped = await _all(sim, token, status="SHIPPED")
    assert shipped and {p["status"] for p in shipped} == {"SHIPPED"}
    assert (await sim.get(PLANS, token, {"pageSize": 31}))[0] == 400  # the model's maximum


async def test_plans_shipments_and_items_follow_the_model_and_move_on(make_sim: MakeSim) -> None:
    sim = await make_sim(time_scale=1000)  # the quota refills in no time
    token = await sim.access_token()
    seller = (await sim.seller())["selling_partner_id"]

    async def documents() -> dict[str, Any]:
        resp = await sim.client.get("/_sim/truth/inbound-plans", params={"seller_id": seller})
        return await resp.json()  # type: ignore[no-any-return]

    before = await documents()
    for plan in before["plans"]:
        status, body, _ = await sim.get(f"{PLANS}/{plan['inboundPlanId']}", token)
        assert status == 200 and body == plan
        assert schema_errors(MODEL, "InboundPlan", body) == []
        for summary in body["shipments"]:
            at = f"{PLANS}/{plan['inboundPlanId']}/shipments/{summary['shipmentId']}"
            status, shipment, _ = await sim.get(at, token)
            assert status == 200 and schema_errors(MODEL, "Shipment", shipment) == []
            assert shipment["status"] == summary["status"]
            status, items, _ = await sim.get(at + "/items", token, {"pageSize": 1})
            assert status == 200 and schema_errors(MODEL, "ListShipmentItemsResponse",
                                                   items) == []
    newest = max(before["plans"], key=lambda p: p["lastUpdatedAt"])
    assert newest["status"] == "ACTIVE" and newest["shipments"] == []
    await sim.post("/_sim/clock", {"advance": 86400 + 60})
    after = {p["inboundPlanId"]: p for p in (await documents())["plans"]}
    moved = after[newest["inboundPlanId"]]
    assert moved["lastUpdatedAt"] > newest["lastUpdatedAt"] and moved["shipments"]
    assert {s["status"] for s in moved["shipments"]} == {"READY_TO_SHIP"}
    missing = f"{PLANS}/wf{'0' * 36}"
    status, body, _ = await sim.get(missing, await sim.access_token())
    assert status == 404, body
