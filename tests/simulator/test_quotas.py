"""Token buckets per (seller, operation) with the models' rate x time_scale and burst."""

from __future__ import annotations

from decimal import Decimal

from simulator.spec import served_operations

from .simkit import EPOCH, MakeSim, Sim

SEARCH = "/orders/2026-01-01/orders"


def test_usage_plans_come_from_the_models() -> None:
    plans = {k: (op.rate, op.burst) for k, op in served_operations().items()}
    assert plans == {
        "getOrders": (Decimal("0.0167"), 20),
        "getOrderItems": (Decimal("0.5"), 30),
        "searchOrders": (Decimal("0.0056"), 20),
        "getOrder": (Decimal("0.5"), 30),
        "getInventorySummaries": (Decimal("2"), 2),
    }


async def _burn(sim: Sim, token: str, calls: int) -> list[int]:
    statuses = []
    for _ in range(calls):
        status, _, _ = await sim.get(SEARCH, token, {"lastUpdatedAfter": EPOCH})
        statuses.append(status)
    return statuses


async def test_burst_then_429_with_headers(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    token = await sim.access_token()
    assert await _burn(sim, token, 20) == [200] * 20
    status, body, headers = await sim.get(SEARCH, token, {"lastUpdatedAfter": EPOCH})
    assert status == 429
    assert body["errors"][0] == {
        "code": "QuotaExceeded",
        "message": "You exceeded your quota for the requested resource.",
        "details": "",
    }
    assert headers["x-amzn-RateLimit-Limit"] == "0.0056"
    assert len(headers["x-amzn-RequestId"]) == 36
    # Another seller has its own bucket.
    assert await _burn(sim, await sim.access_token(1), 1) == [200]


async def test_time_scale_speeds_up_refill(make_sim: MakeSim) -> None:
    slow = await make_sim(orders_per_seller=5)
    fast = await make_sim(orders_per_seller=5, time_scale=600)  # 0.0056 x 600 = 3.36/s
    for sim in (slow, fast):
        token = await sim.access_token()
        await _burn(sim, token, 21)
        sim.clock.advance(1.0)
        granted = (await _burn(sim, token, 8)).count(200)
        # 3.36 tokens from the advanced second, plus whatever real time added meanwhile.
        assert granted in (range(0, 1) if sim is slow else range(3, 5))
    _, _, headers = await fast.get(SEARCH, await fast.access_token(), {"lastUpdatedAfter": EPOCH})
    assert headers["x-amzn-RateLimit-Limit"] == "3.36"


async def test_stats_count_calls_and_throttles(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5)
    seller = await sim.seller()
    token = await sim.access_token()
    await _burn(sim, token, 23)
    resp = await sim.client.get("/_sim/stats")
    stats = await resp.json()
    [bucket] = stats["buckets"]
    assert bucket["seller_id"] == seller["selling_partner_id"]
    assert bucket["operation"] == "searchOrders"
    assert (bucket["calls"], bucket["throttled"], bucket["burst"]) == (23, 3, 20)
    assert bucket["rate"] == 0.0056
    assert 20 <= bucket["max_allowed"] < 20.1
    assert bucket["calls"] - bucket["throttled"] <= bucket["max_allowed"]
    assert stats["time_scale"] == 1.0
    assert stats["elapsed_seconds"] >= 0
    assert stats["lwa"] == {"grants": 1, "refresh_grants": 1, "errors": 0}
