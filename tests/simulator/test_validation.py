"""Requests are checked against the models' parameter lists and the window rules."""

from __future__ import annotations

from typing import Any

import pytest

from .simkit import EPOCH, MakeSim

ORDERS = "/orders/v0/orders"
SEARCH = "/orders/2026-01-01/orders"
US = "ATVPDKIKX0DER"


def _bad(status: int, body: dict[str, Any], *names: str) -> None:
    assert status == 400, body
    [error] = body["errors"]
    assert error["code"] == "InvalidInput"
    for name in names:
        assert name in error["message"]


@pytest.mark.parametrize(
    ("path", "params", "names"),
    [
        (ORDERS, {"LastUpdatedAfter": EPOCH}, ["MarketplaceIds"]),
        (ORDERS, {"MarketplaceIds": US}, ["CreatedAfter", "LastUpdatedAfter"]),
        (
            ORDERS,
            {"MarketplaceIds": US, "CreatedAfter": EPOCH, "LastUpdatedAfter": EPOCH},
            ["CreatedAfter"],
        ),
        (
            ORDERS,
            {"MarketplaceIds": US, "CreatedAfter": EPOCH, "LastUpdatedBefore": EPOCH},
            ["LastUpdatedBefore"],
        ),
        (
            ORDERS,
            {"MarketplaceIds": US, "LastUpdatedAfter": EPOCH, "MaxResultsPerPage": 0},
            ["MaxResultsPerPage"],
        ),
        (
            ORDERS,
            {"MarketplaceIds": US, "LastUpdatedAfter": EPOCH, "MaxResultsPerPage": 101},
            ["MaxResultsPerPage"],
        ),
        (
            ORDERS,
            {"MarketplaceIds": US, "LastUpdatedAfter": EPOCH, "MaxResultsPerPage": "x"},
            ["MaxResultsPerPage"],
        ),
        (ORDERS, {"MarketplaceIds": US, "LastUpdatedAfter": "yesterday"}, ["LastUpdatedAfter"]),
        (
            ORDERS,
            {"MarketplaceIds": US, "LastUpdatedAfter": EPOCH, "OrderStatuses": "Lost"},
            ["OrderStatuses"],
        ),
        (
            ORDERS,
            {"MarketplaceIds": ",".join([US] * 51), "LastUpdatedAfter": EPOCH},
            ["MarketplaceIds"],
        ),
        (SEARCH, {}, ["createdAfter", "lastUpdatedAfter"]),
        (
            SEARCH,
            {"createdAfter": EPOCH, "lastUpdatedAfter": EPOCH},
            ["createdAfter", "lastUpdatedAfter"],
        ),
        (SEARCH, {"lastUpdatedAfter": EPOCH, "createdBefore": EPOCH}, ["createdBefore"]),
        (SEARCH, {"lastUpdatedAfter": EPOCH, "maxResultsPerPage": 0}, ["maxResultsPerPage"]),
        (SEARCH, {"lastUpdatedAfter": EPOCH, "maxResultsPerPage": 101}, ["maxResultsPerPage"]),
        (
            SEARCH,
            {"lastUpdatedAfter": EPOCH, "includedData": "FULFILLMENT,EVERYTHING"},
            ["includedData"],
        ),
        (
            SEARCH,
            {"lastUpdatedAfter": EPOCH, "fulfillmentStatuses": "Shipped"},
            ["fulfillmentStatuses"],
        ),
        (SEARCH, {"lastUpdatedAfter": EPOCH, "fulfilledBy": "ME"}, ["fulfilledBy"]),
        (
            SEARCH,
            {"createdAfter": "2020-01-02T00:00:00Z", "createdBefore": "2020-01-01T00:00:00Z"},
            ["createdBefore"],
        ),
    ],
)
async def test_bad_requests_name_the_parameter(
    make_sim: MakeSim, path: str, params: dict[str, Any], names: list[str]
) -> None:
    sim = await make_sim(orders_per_seller=1)
    status, body, headers = await sim.get(path, await sim.access_token(), params)
    _bad(status, body, *names)
    assert "x-amzn-RequestId" in headers


async def test_before_must_be_two_minutes_old_scaled_by_time_scale(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    token = await sim.access_token()
    status, body, _ = await sim.get(
        ORDERS,
        token,
        {"MarketplaceIds": US, "LastUpdatedAfter": EPOCH, "LastUpdatedBefore": sim.recent(60)},
    )
    _bad(status, body, "LastUpdatedBefore", "120 seconds")
    status, body, _ = await sim.get(
        SEARCH, token, {"createdAfter": EPOCH, "createdBefore": sim.recent(119)}
    )
    _bad(status, body, "createdBefore")
    before = sim.recent(125)
    status, body, _ = await sim.get(SEARCH, token, {"createdAfter": EPOCH, "createdBefore": before})
    assert status == 200
    assert body["createdBefore"] == before

    fast = await make_sim(orders_per_seller=1, time_scale=60)  # 2 s instead of 120 s
    status, _, _ = await fast.get(
        SEARCH,
        await fast.access_token(),
        {"lastUpdatedAfter": EPOCH, "lastUpdatedBefore": fast.recent(5)},
    )
    assert status == 200


async def test_arrays_accept_commas_and_repeated_keys(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=4, orders_per_seller=40)
    seller = await sim.seller(3)  # an NA seller that also sells in Canada
    assert len(seller["marketplace_ids"]) == 2
    token = await sim.access_token(3)
    comma = {"MarketplaceIds": ",".join(seller["marketplace_ids"]), "LastUpdatedAfter": EPOCH}
    repeated = [("MarketplaceIds", m) for m in seller["marketplace_ids"]] + [
        ("LastUpdatedAfter", EPOCH)
    ]
    _, by_comma, _ = await sim.get(ORDERS, token, comma)
    _, by_repeat, _ = await sim.get(ORDERS, token, repeated)
    _, us_only, _ = await sim.get(ORDERS, token, {"MarketplaceIds": US, "LastUpdatedAfter": EPOCH})
    assert by_comma["payload"]["Orders"] == by_repeat["payload"]["Orders"]
    assert len(by_comma["payload"]["Orders"]) == 40 > len(us_only["payload"]["Orders"])


async def test_filters_select_matching_orders(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=80)
    token = await sim.access_token()
    _, body, _ = await sim.get(
        ORDERS,
        token,
        {"MarketplaceIds": US, "LastUpdatedAfter": EPOCH, "OrderStatuses": "Canceled,Unshipped"},
    )
    assert {o["OrderStatus"] for o in body["payload"]["Orders"]} == {"Canceled", "Unshipped"}
    params = {
        "lastUpdatedAfter": EPOCH,
        "fulfillmentStatuses": "CANCELLED",
        "fulfilledBy": "AMAZON",
        "includedData": "FULFILLMENT",
    }
    _, body, _ = await sim.get(SEARCH, token, params)
    assert body["orders"]
    assert {
        (o["fulfillment"]["fulfillmentStatus"], o["fulfillment"]["fulfilledBy"])
        for o in body["orders"]
    } == {("CANCELLED", "AMAZON")}


async def test_unknown_order_is_404(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=3)
    other = (await sim.seller(1))["selling_partner_id"]
    foreign = (await sim.truth(other))[0]["AmazonOrderId"]
    status, body, _ = await sim.get(
        f"/orders/v0/orders/{foreign}/orderItems", await sim.access_token(0)
    )
    assert status == 404
    assert body["errors"][0]["code"] == "NotFound"
