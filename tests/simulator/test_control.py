"""``/_sim``: faults, mutations, the change loop, determinism, ground truth."""

from __future__ import annotations

import json
from typing import Any

import pytest

from simulator import SimConfig
from simulator.clock import Clock
from simulator.state import Simulator, build_simulator

from .simkit import EPOCH, MakeSim, Sim, schema_errors

SEARCH = "/orders/2026-01-01/orders"
V2026 = "orders_2026-01-01"


async def _search(sim: Sim, token: str) -> tuple[int, bytes]:
    resp = await sim.client.get(
        SEARCH, params={"lastUpdatedAfter": EPOCH}, headers={"x-amz-access-token": token}
    )
    return resp.status, await resp.read()


@pytest.mark.parametrize(
    ("fault", "status"),
    [
        ("http_500", 500),
        ("http_503", 503),
        ("throttle", 429),
        ("expired_token", 403),
        ("malformed", 200),
        ("truncated", 200),
    ],
)
async def test_fault_fires_exactly_n_times(make_sim: MakeSim, fault: str, status: int) -> None:
    sim = await make_sim(orders_per_seller=5)
    token = await sim.access_token()
    code, _ = await sim.post(
        "/_sim/faults", {"operation": "searchOrders", "fault": fault, "count": 2}
    )
    assert code == 200
    results = [await _search(sim, token) for _ in range(3)]
    assert [s for s, _ in results] == [status, status, 200]
    assert _broken(fault, results[0][1])
    assert not _broken(fault, results[2][1])
    stats = await (await sim.client.get("/_sim/stats")).json()
    assert stats["buckets"][0]["calls"] == 3
    assert stats["buckets"][0]["throttled"] == (2 if fault == "throttle" else 0)


def _broken(fault: str, raw: bytes) -> bool:
    try:
        body: Any = json.loads(raw)
    except ValueError:
        return True
    if fault == "malformed":
        return bool(schema_errors(V2026, "SearchOrdersResponse", body))
    return "errors" in body


async def test_faults_match_seller_and_can_be_listed_and_cleared(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    target = (await sim.seller(1))["selling_partner_id"]
    await sim.post(
        "/_sim/faults",
        {"operation": "searchOrders", "fault": "http_500", "count": 1, "seller_id": target},
    )
    await sim.post("/_sim/faults", {"operation": "getOrders", "fault": "throttle", "count": 4})
    assert (await _search(sim, await sim.access_token(0)))[0] == 200
    assert (await _search(sim, await sim.access_token(1)))[0] == 500
    listed = await (await sim.client.get("/_sim/faults")).json()
    assert listed == {
        "faults": [
            {"operation": "getOrders", "seller_id": None, "fault": "throttle", "remaining": 4,
             "retry_after": None}
        ]
    }
    cleared = await (await sim.client.delete("/_sim/faults")).json()
    assert cleared == {"cleared": 1}
    status, body = await sim.post("/_sim/faults", {"operation": "nope", "fault": "throttle"})
    assert status == 400
    assert "operation" in body["error"]


async def test_malformed_fault_breaks_each_operation_schema(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    seller = await sim.seller()
    token = await sim.access_token()
    order_id = (await sim.truth(seller["selling_partner_id"]))[0]["AmazonOrderId"]
    calls = {
        "getOrders": (
            "/orders/v0/orders",
            {"MarketplaceIds": seller["marketplace_ids"][0], "CreatedAfter": EPOCH},
            "ordersV0",
            "GetOrdersResponse",
        ),
        "getOrderItems": (
            f"/orders/v0/orders/{order_id}/orderItems",
            {},
            "ordersV0",
            "GetOrderItemsResponse",
        ),
        "getOrder": (f"/orders/2026-01-01/orders/{order_id}", {}, V2026, "GetOrderResponse"),
    }
    for operation, (path, params, model, definition) in calls.items():
        await sim.post("/_sim/faults", {"operation": operation, "fault": "malformed", "count": 1})
        status, body, _ = await sim.get(path, token, params)
        assert status == 200
        assert schema_errors(model, definition, body), operation
        _, body, _ = await sim.get(path, token, params)
        assert schema_errors(model, definition, body) == [], operation


async def test_mutate_returns_ids_and_advances_last_update(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=20)
    spid = (await sim.seller())["selling_partner_id"]
    before = {o["AmazonOrderId"]: o for o in await sim.truth(spid)}
    status, body = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 6})
    assert status == 200
    assert len(body["changed"]) == 6
    after = {o["AmazonOrderId"]: o for o in await sim.truth(spid)}
    for order_id in body["changed"]:
        assert order_id in after
        if order_id in before:
            assert after[order_id]["LastUpdateDate"] > before[order_id]["LastUpdateDate"]
            assert after[order_id]["OrderStatus"] != before[order_id]["OrderStatus"]
        else:
            assert after[order_id]["PurchaseDate"] <= after[order_id]["LastUpdateDate"]
    for order in after.values():  # quantities follow the status
        shipped = order["OrderStatus"] == "Shipped"
        assert all(
            (i["QuantityShipped"] == i["QuantityOrdered"]) == shipped for i in order["OrderItems"]
        )
    assert (await sim.post("/_sim/mutate", {"seller_id": "A-nobody", "count": 1}))[0] == 400


async def test_mutate_unshipped_places_new_orders_ready_to_ship(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    spid = (await sim.seller())["selling_partner_id"]
    before = {o["AmazonOrderId"] for o in await sim.truth(spid)}
    status, body = await sim.post("/_sim/mutate",
                                  {"seller_id": spid, "count": 3, "kind": "unshipped"})
    assert status == 200 and len(set(body["changed"])) == 3
    after = {o["AmazonOrderId"]: o for o in await sim.truth(spid)}
    for order_id in body["changed"]:
        assert order_id not in before
        order = after[order_id]
        assert order["OrderStatus"] == "Unshipped"
        assert all(i["QuantityShipped"] == 0 for i in order["OrderItems"])
    token = await sim.access_token()
    _, got, _ = await sim.get(f"/orders/2026-01-01/orders/{body['changed'][0]}", token,
                              {"includedData": "FULFILLMENT"})
    assert got["order"]["fulfillment"]["fulfilledBy"] == "MERCHANT"


async def test_same_seed_same_world_and_same_changes(make_sim: MakeSim) -> None:
    start = 1_790_000_000.0
    worlds = []
    for seed in (7, 7, 8):
        sim = await make_sim(clock=Clock(start=start), seed=seed, orders_per_seller=30)
        listing = await sim.sellers()
        spid = listing["sellers"][0]["selling_partner_id"]
        truth = await sim.truth(spid)
        _, changed = await sim.post("/_sim/mutate", {"seller_id": spid, "count": 10})
        worlds.append((listing, truth, changed["changed"]))
    assert worlds[0] == worlds[1]
    assert worlds[0][1] != worlds[2][1]
    regions = [s["region"] for s in worlds[0][0]["sellers"]]
    assert regions == ["NA", "EU", "FE"]
    assert all(len(s["selling_partner_id"]) == 14 for s in worlds[0][0]["sellers"])


async def test_truth_shape_and_unknown_seller(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=3)
    spid = (await sim.seller(2))["selling_partner_id"]
    order = (await sim.truth(spid))[0]
    assert set(order) == {
        "AmazonOrderId",
        "OrderStatus",
        "PurchaseDate",
        "LastUpdateDate",
        "MarketplaceId",
        "OrderTotal",
        "OrderItems",
    }
    assert order["MarketplaceId"] == "A1VC38T7YXB528"
    assert order["OrderTotal"]["CurrencyCode"] == "JPY"
    lines = sum(float(i["ItemPrice"]["Amount"]) for i in order["OrderItems"])
    assert abs(lines - float(order["OrderTotal"]["Amount"])) < 0.001
    resp = await sim.client.get("/_sim/truth/orders", params={"seller_id": "nobody"})
    assert resp.status == 400


async def test_change_loop_runs_at_the_controlled_rate(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=10)
    spid = (await sim.seller())["selling_partner_id"]
    before = {o["AmazonOrderId"]: o["LastUpdateDate"] for o in await sim.truth(spid)}
    status, body = await sim.post("/_sim/control", {"changes_per_minute": 600})  # 10/s per seller
    assert (status, body) == (200, {"changes_per_minute": 600.0})
    await sim.idle(passes=3)  # three ticks, each after >= 0.25 s: >= 7 changes owed
    await sim.post("/_sim/control", {"changes_per_minute": 0})
    frozen = await sim.truth(spid)
    changed = [o for o in frozen if before.get(o["AmazonOrderId"]) != o["LastUpdateDate"]]
    assert len(changed) >= 2
    await sim.idle()  # the loop has ticked at rate 0 since
    assert await sim.truth(spid) == frozen


def _fingerprint(sim: Simulator) -> list[tuple[int, int]]:
    """(orders, sum of LastUpdateDate) per seller: any change moves one of them."""
    return [
        (len(s.orders), sum(o.last_update for o in s.orders.values()))
        for s in sim.world.sellers.values()
    ]


def test_change_loop_carries_fractions() -> None:
    sim = build_simulator(SimConfig(sellers=2, orders_per_seller=5), Clock())
    sim.changes.changes_per_minute = 10.0  # one change per seller every 6 s
    start = _fingerprint(sim)
    sim.changes.tick(3.0)
    assert _fingerprint(sim) == start
    sim.changes.tick(3.0)
    assert all(now != then for now, then in zip(_fingerprint(sim), start, strict=True))


async def test_forced_throttle_can_carry_retry_after(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token = await sim.access_token()
    await sim.post("/_sim/faults", {"operation": "searchOrders", "fault": "throttle",
                                    "count": 1, "retry_after": 2.5})
    resp = await sim.client.get(SEARCH, params={"lastUpdatedAfter": EPOCH},
                                headers={"x-amz-access-token": token})
    assert resp.status == 429 and resp.headers["Retry-After"] == "2.5"


async def test_per_seller_limit_changes_bucket_and_header(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token = await sim.access_token()
    seller_id = (await sim.seller(0))["selling_partner_id"]

    async def limit_header() -> str:
        resp = await sim.client.get(SEARCH, params={"lastUpdatedAfter": EPOCH},
                                    headers={"x-amz-access-token": token})
        return resp.headers["x-amzn-RateLimit-Limit"]

    assert await limit_header() == "0.0056"
    code, _ = await sim.post("/_sim/limits", {"seller_id": seller_id,
                                              "operation": "searchOrders", "rate": 0.002})
    assert code == 200
    assert await limit_header() == "0.002"
    code, _ = await sim.post("/_sim/limits", {"seller_id": seller_id,
                                              "operation": "searchOrders", "rate": 0})
    assert code == 400


DAY = 86_400
TRANSACTIONS, GROUPS = "/finances/2024-06-19/transactions", "/finances/v0/financialEventGroups"
DENIED = {"errors": [{"code": "Unauthorized", "message": "Access to requested resource is denied.",
                      "details": ""}]}


async def test_unauthorized_refuses_every_call_of_its_operation_and_seller(
        make_sim: MakeSim) -> None:
    """A seller without the role for an API: 403 on every call while the rule lives, for that
    operation and seller only, and no quota token taken (the bucket is still full after)."""
    sim = await make_sim(orders_per_seller=5)
    target = (await sim.seller(0))["selling_partner_id"]
    token, other_token = await sim.access_token(0), await sim.access_token(1)
    sim.clock.advance(600)
    params = {"postedAfter": sim.recent(DAY)}
    status, _ = await sim.post("/_sim/faults", {
        "fault": "unauthorized", "operation": "listTransactions", "seller_id": target,
        "probability": 1})
    assert status == 200
    for _ in range(12):  # more than the burst of 10: no token is taken
        code, body, headers = await sim.get(TRANSACTIONS, token, params)
        assert (code, body) == (403, DENIED)
        assert headers["x-amzn-RateLimit-Limit"] == "0.5"
    assert (await sim.get(TRANSACTIONS, other_token, params))[0] == 200
    assert (await sim.get(GROUPS, token))[0] == 200
    fired = (await sim.stats())["faults"]
    assert fired == [{"seller_id": target, "operation": "listTransactions",
                      "fault": "unauthorized", "fired": 12}]
    assert (await sim.client.delete("/_sim/faults")).status == 200
    statuses = [(await sim.get(TRANSACTIONS, token, params))[0] for _ in range(11)]
    assert statuses == [200] * 10 + [429]
    await sim.post("/_sim/faults", {"fault": "unauthorized",
                                    "operation": "listFinancialEventGroups", "count": 2})
    statuses = [(await sim.get(GROUPS, t))[0] for t in (other_token, token, token)]
    assert statuses == [403, 403, 200]
