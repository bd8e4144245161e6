"""Keyset pagination: every order exactly once across pages, even while orders change;
tokens are signed, expiring, and bound to seller, operation and parameters."""

from __future__ import annotations

from typing import Any

from .simkit import EPOCH, MakeSim, Sim

ORDERS = "/orders/v0/orders"
SEARCH = "/orders/2026-01-01/orders"


async def _v0_window(
    sim: Sim, token: str, seller: dict[str, Any], after: str, mutate: int
) -> tuple[list[str], str]:
    """Page through one LastUpdatedAfter window, mutating ``mutate`` orders between pages.

    Returns the ids in order and the window's LastUpdatedBefore."""
    markets = ",".join(seller["marketplace_ids"])
    params: dict[str, Any] = {
        "MarketplaceIds": markets,
        "LastUpdatedAfter": after,
        "MaxResultsPerPage": 10,
    }
    seen: list[str] = []
    while True:
        status, body, _ = await sim.get(ORDERS, token, params)
        assert status == 200, body
        seen += [o["AmazonOrderId"] for o in body["payload"]["Orders"]]
        if "NextToken" not in body["payload"]:
            return seen, body["payload"]["LastUpdatedBefore"]
        if mutate:
            await sim.post(
                "/_sim/mutate", {"seller_id": seller["selling_partner_id"], "count": mutate}
            )
        params = {"MarketplaceIds": markets, "NextToken": body["payload"]["NextToken"]}


async def test_v0_window_returns_each_order_once_while_orders_change(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=120)
    seller = await sim.seller()
    token = await sim.access_token()
    before = {o["AmazonOrderId"] for o in await sim.truth(seller["selling_partner_id"])}

    first, bound = await _v0_window(sim, token, seller, EPOCH, mutate=3)
    assert len(first) == len(set(first))
    assert set(first) <= before

    # Orders changed before their page was reached left the window (their LastUpdateDate
    # is past its bound); the next window, once that time is 2 minutes old, has them all.
    # (+5 s: a second change within the same second is stamped one second later.)
    sim.clock.advance(125)
    second, _ = await _v0_window(sim, token, seller, bound, mutate=0)
    after = {o["AmazonOrderId"] for o in await sim.truth(seller["selling_partner_id"])}
    assert set(first) | set(second) == after
    assert len(after) > len(before)  # the mutations created new orders too


async def test_search_orders_created_window_returns_each_order_once(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=90)
    seller = await sim.seller()
    token = await sim.access_token()
    initial = {o["AmazonOrderId"] for o in await sim.truth(seller["selling_partner_id"])}
    params: dict[str, Any] = {"createdAfter": EPOCH, "maxResultsPerPage": 7}
    seen: list[str] = []
    created: list[str] = []
    while True:
        status, body, _ = await sim.get(SEARCH, token, params)
        assert status == 200, body
        seen += [o["orderId"] for o in body["orders"]]
        created += [o["createdTime"] for o in body["orders"]]
        if "pagination" not in body:
            break
        await sim.post("/_sim/mutate", {"seller_id": seller["selling_partner_id"], "count": 4})
        params = {
            "createdAfter": EPOCH,
            "maxResultsPerPage": 13,
            "paginationToken": body["pagination"]["nextToken"],
        }
    assert sorted(seen) == sorted(initial)
    assert created == sorted(created)


async def test_order_items_page_by_items_page_size(make_sim: MakeSim) -> None:
    sim = await make_sim(items_page_size=1)
    seller = await sim.seller()
    token = await sim.access_token()
    order = next(
        o for o in await sim.truth(seller["selling_partner_id"]) if len(o["OrderItems"]) > 1
    )
    path = f"/orders/v0/orders/{order['AmazonOrderId']}/orderItems"
    params: dict[str, str] = {}
    items: list[str] = []
    while True:
        status, body, _ = await sim.get(path, token, params)
        assert status == 200
        items += [i["OrderItemId"] for i in body["payload"]["OrderItems"]]
        if "NextToken" not in body["payload"]:
            break
        params = {"NextToken": body["payload"]["NextToken"]}
    assert items == [i["OrderItemId"] for i in order["OrderItems"]]


async def _first_token(sim: Sim, token: str) -> str:
    status, body, _ = await sim.get(
        SEARCH, token, {"lastUpdatedAfter": EPOCH, "maxResultsPerPage": 5}
    )
    assert status == 200
    next_token: str = body["pagination"]["nextToken"]
    return next_token


def _message(body: dict[str, Any]) -> str:
    assert body["errors"][0]["code"] == "InvalidInput"
    message: str = body["errors"][0]["message"]
    return message


async def test_tampered_token_is_rejected(make_sim: MakeSim) -> None:
    sim = await make_sim()
    token = await sim.access_token()
    good = await _first_token(sim, token)
    middle = len(good) // 2
    bad = good[:middle] + ("A" if good[middle] != "A" else "B") + good[middle + 1 :]
    status, body, _ = await sim.get(
        SEARCH, token, {"lastUpdatedAfter": EPOCH, "paginationToken": bad}
    )
    assert status == 400
    assert "paginationToken" in _message(body)
    status, body, _ = await sim.get(
        SEARCH, token, {"lastUpdatedAfter": EPOCH, "paginationToken": "%%%"}
    )
    assert status == 400


async def test_token_expires_after_24_hours_scaled(make_sim: MakeSim) -> None:
    sim = await make_sim(time_scale=3600)  # 24 h becomes 24 s
    token = await sim.access_token()
    next_token = await _first_token(sim, token)
    sim.clock.advance(25)
    status, body, _ = await sim.get(
        SEARCH, token, {"lastUpdatedAfter": EPOCH, "paginationToken": next_token}
    )
    assert status == 400
    assert "expired" in _message(body)


async def test_search_token_requires_same_parameters(make_sim: MakeSim) -> None:
    sim = await make_sim()
    token = await sim.access_token()
    next_token = await _first_token(sim, token)
    same = {"lastUpdatedAfter": EPOCH, "paginationToken": next_token}
    changed = {**same, "fulfillmentStatuses": "SHIPPED"}
    status, body, _ = await sim.get(SEARCH, token, changed)
    assert status == 400
    assert "paginationToken" in _message(body)
    # maxResultsPerPage and includedData may change between pages.
    status, _, _ = await sim.get(
        SEARCH, token, {**same, "maxResultsPerPage": 3, "includedData": "PROCEEDS"}
    )
    assert status == 200


async def test_token_is_bound_to_seller_and_operation(make_sim: MakeSim) -> None:
    sim = await make_sim()
    token, other = await sim.access_token(0), await sim.access_token(1)
    next_token = await _first_token(sim, token)
    status, _, _ = await sim.get(
        SEARCH, other, {"lastUpdatedAfter": EPOCH, "paginationToken": next_token}
    )
    assert status == 400
    markets = (await sim.seller(0))["marketplace_ids"]
    status, body, _ = await sim.get(
        ORDERS, token, {"MarketplaceIds": markets, "NextToken": next_token}
    )
    assert status == 400
    assert "NextToken" in _message(body)
