"""Sales API getOrderMetrics in the simulator: the model's shape and quota, one bucket per
granularity unit with its full bounds, and counts equal to sums over /_sim/truth/orders."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulator.spec import all_operations

from .simkit import MakeSim, schema_errors

PATH = "/sales/v1/orderMetrics"


def test_usage_plan_comes_from_the_model() -> None:
    op = all_operations()["getOrderMetrics"]
    assert (op.rate, op.burst, op.path) == (Decimal("0.5"), 15, PATH)


def _day(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%MZ")


def _expected(orders: list[dict[str, Any]], market: str, start: datetime,
              end: datetime) -> dict[str, tuple[int, int, int, Decimal]]:
    acc: dict[str, list[Any]] = defaultdict(lambda: [0, 0, set(), Decimal(0)])
    for o in orders:
        bought = datetime.fromisoformat(o["PurchaseDate"].replace("Z", "+00:00"))
        if o["MarketplaceId"] != market or o["OrderStatus"] == "Canceled" \
                or not start <= bought < end:
            continue
        midnight = bought.replace(hour=0, minute=0, second=0, microsecond=0)
        key = f"{_day(midnight)}--{_day(midnight + timedelta(days=1))}"
        for item in o["OrderItems"]:
            a = acc[key]
            a[0] += item["QuantityOrdered"]
            a[1] += 1
            a[2].add(o["AmazonOrderId"])
            a[3] += Decimal(item["ItemPrice"]["Amount"])
    return {k: (v[0], v[1], len(v[2]), v[3]) for k, v in acc.items()}


async def test_day_metrics_equal_the_orders_summed(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=200, history_days=20)
    seller = await sim.seller()
    spid, token, market = seller["selling_partner_id"], await sim.access_token(), \
        seller["marketplace_ids"][0]
    now = datetime.fromtimestamp(sim.clock.now(), tz=UTC)
    start = (now - timedelta(days=10)).replace(hour=7, minute=0, second=0, microsecond=0)
    query = {"marketplaceIds": market, "interval": f"{_day(start)}--{_day(now)}",
             "granularity": "Day", "granularityTimeZone": "UTC"}
    status, body, _ = await sim.get(PATH, token, query)
    assert status == 200, body
    assert schema_errors("salesV1", "GetOrderMetricsResponse", body) == []
    payload = body["payload"]
    assert len(payload) == 11  # every UTC day the interval touches, empty ones too
    assert payload[0]["interval"].startswith(_day(start.replace(hour=0)))
    got = {m["interval"]: (m["unitCount"], m["orderItemCount"], m["orderCount"],
                           Decimal(m["totalSales"]["amount"])) for m in payload}
    want = _expected(await sim.truth(spid), market, start, now)
    assert want and {k: v for k, v in got.items() if v[0]} == want
    for m in payload:
        units, total = m["unitCount"], Decimal(m["totalSales"]["amount"])
        average = (total / units).quantize(Decimal("0.01")) if units else Decimal("0.00")
        assert Decimal(m["averageUnitPrice"]["amount"]) == average


async def test_refusals_follow_the_model(make_sim: MakeSim) -> None:
    sim = await make_sim()
    seller = await sim.seller()
    token, market = await sim.access_token(), seller["marketplace_ids"][0]
    now = datetime.fromtimestamp(sim.clock.now(), tz=UTC)
    good = {"marketplaceIds": market, "granularity": "Day", "granularityTimeZone": "UTC",
            "interval": f"{_day(now - timedelta(days=2))}--{_day(now)}"}
    for change in ({"interval": "yesterday"}, {"granularityTimeZone": "US/Pacific"},
                   {"granularity": "Hour", "interval":
                    f"{_day(now - timedelta(days=40))}--{_day(now)}"},
                   {"asin": "B0000000001", "sku": "X"}, {"granularity": "Fortnight"}):
        status, body, _ = await sim.get(PATH, token, {**good, **change})
        assert status == 400, (change, body)
    no_zone = {k: v for k, v in good.items() if k != "granularityTimeZone"}
    assert (await sim.get(PATH, token, no_zone))[0] == 400
    status, body, _ = await sim.get(PATH, token, {**good, "granularity": "Total"})
    assert status == 200 and len(body["payload"]) == 1
