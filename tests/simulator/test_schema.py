"""Every body the four operations return validates against Amazon's response definitions."""

from __future__ import annotations

from typing import Any

from .simkit import EPOCH, MakeSim, schema_errors

V0, V2026 = "ordersV0", "orders_2026-01-01"
ALL_DATA = (
    "BUYER,RECIPIENT,PROCEEDS,EXPENSE,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX,PAYMENT"
)


async def test_get_orders_pages_validate(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=3, orders_per_seller=30)
    for index in range(3):
        seller = await sim.seller(index)
        token = await sim.access_token(index)
        params: dict[str, Any] = {
            "MarketplaceIds": ",".join(seller["marketplace_ids"]),
            "LastUpdatedAfter": EPOCH,
            "MaxResultsPerPage": 7,
        }
        pages = 0
        while True:
            status, body, _ = await sim.get("/orders/v0/orders", token, params)
            assert status == 200
            assert schema_errors(V0, "GetOrdersResponse", body) == []
            pages += 1
            if "NextToken" not in body["payload"]:
                break
            params = {
                "MarketplaceIds": params["MarketplaceIds"],
                "NextToken": body["payload"]["NextToken"],
            }
        assert pages > 1


async def test_get_order_items_validates_for_every_status(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=80)
    seller = await sim.seller()
    token = await sim.access_token()
    # New orders start Pending, the one state whose items carry no prices.
    await sim.post("/_sim/mutate", {"seller_id": seller["selling_partner_id"], "count": 3})
    seen: set[str] = set()
    for order in await sim.truth(seller["selling_partner_id"]):
        if order["OrderStatus"] in seen:
            continue
        seen.add(order["OrderStatus"])
        path = f"/orders/v0/orders/{order['AmazonOrderId']}/orderItems"
        status, body, _ = await sim.get(path, token)
        assert status == 200
        assert schema_errors(V0, "GetOrderItemsResponse", body) == []
        assert body["payload"]["AmazonOrderId"] == order["AmazonOrderId"]
        priced = "ItemPrice" in body["payload"]["OrderItems"][0]
        assert priced == (order["OrderStatus"] != "Pending")
    assert {"Shipped", "Pending", "Unshipped", "Canceled"} <= seen


async def test_search_orders_validates_with_and_without_included_data(make_sim: MakeSim) -> None:
    sim = await make_sim()
    token = await sim.access_token()
    for included in (None, "FULFILLMENT", "PROCEEDS", ALL_DATA):
        params = {"lastUpdatedAfter": EPOCH, "maxResultsPerPage": "100"}
        if included:
            params["includedData"] = included
        status, body, _ = await sim.get("/orders/2026-01-01/orders", token, params)
        assert status == 200
        assert schema_errors(V2026, "SearchOrdersResponse", body) == []
        assert len(body["orders"]) == 60
        assert "pagination" not in body


async def test_get_order_validates(make_sim: MakeSim) -> None:
    sim = await make_sim()
    seller = await sim.seller()
    token = await sim.access_token()
    order_id = (await sim.truth(seller["selling_partner_id"]))[0]["AmazonOrderId"]
    for params in ({}, {"includedData": ALL_DATA}):
        status, body, _ = await sim.get(f"/orders/2026-01-01/orders/{order_id}", token, params)
        assert status == 200
        assert schema_errors(V2026, "GetOrderResponse", body) == []
        assert body["order"]["orderId"] == order_id


async def test_error_bodies_validate(make_sim: MakeSim) -> None:
    sim = await make_sim()
    token = await sim.access_token()
    status, body, _ = await sim.get("/orders/v0/orders", token, {"LastUpdatedAfter": EPOCH})
    assert status == 400
    assert schema_errors(V0, "GetOrdersResponse", body) == []
    status, body, _ = await sim.get("/orders/2026-01-01/orders/111-0000000-0000000", token)
    assert status == 404
    assert schema_errors(V2026, "ErrorList", body) == []
    assert body["errors"][0]["code"] == "NotFound"


async def test_finances_validate(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=4, orders_per_seller=80)  # seller 3: two currencies
    token = await sim.access_token(3)
    sim.clock.advance(4 * 86_400)  # some sales still deferred, some released, some refunded
    token = await sim.access_token(3)
    params = {"postedAfter": sim.recent(60 * 86_400)}
    status, body, _ = await sim.get("/finances/2024-06-19/transactions", token, params)
    assert status == 200
    assert schema_errors("finances_2024-06-19", "ListTransactionsResponse", body) == []
    assert {t["transactionStatus"] for t in body["payload"]["transactions"]} >= {
        "DEFERRED", "DEFERRED_RELEASED", "RELEASED"}
    status, body, _ = await sim.get("/finances/v0/financialEventGroups", token)
    assert status == 200
    assert schema_errors("financesV0", "ListFinancialEventGroupsResponse", body) == []
    assert {g["ProcessingStatus"] for g in body["payload"]["FinancialEventGroupList"]} == {
        "Open", "Closed"}
    status, body, _ = await sim.get("/finances/v0/financialEventGroups", token,
                                    {"MaxResultsPerPage": "0"})
    assert status == 400
    assert schema_errors("financesV0", "ListFinancialEventGroupsResponse", body) == []
    status, body, _ = await sim.get("/finances/2024-06-19/transactions", token)
    assert status == 400
    assert schema_errors("finances_2024-06-19", "ErrorList", body) == []
