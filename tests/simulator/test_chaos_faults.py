"""The simulator's chaos knobs: fault probability and duration, ``hang``, ``token_rejected``,
``lwa_outage``, the fired tally in ``/_sim/stats`` and ``/_sim/clock``."""

from __future__ import annotations

import time
from typing import Any

from .simkit import EPOCH, MakeSim, Sim

SEARCH = "/orders/2026-01-01/orders"


async def _search(sim: Sim, token: str, **params: Any) -> int:
    resp = await sim.client.get(SEARCH, params={"lastUpdatedAfter": EPOCH, **params},
                                headers={"x-amz-access-token": token})
    await resp.read()
    return resp.status


async def _fired(sim: Sim) -> dict[str, int]:
    stats = await (await sim.client.get("/_sim/stats")).json()
    return {f["fault"]: f["fired"] for f in stats["faults"]}


async def test_a_probability_rule_fires_on_about_that_share_and_is_unlimited(
        make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5, time_scale=1_000_000)  # no 429 in 200 calls
    token = await sim.access_token()
    status, body = await sim.post("/_sim/faults", {"operation": "searchOrders",
                                                   "fault": "http_503", "probability": 0.25})
    assert status == 200 and body["faults"][0]["remaining"] is None
    statuses = [await _search(sim, token) for _ in range(200)]
    failed = statuses.count(503)
    assert 25 <= failed <= 80 and set(statuses) == {200, 503}
    assert await _fired(sim) == {"http_503": failed}


async def test_a_rule_with_a_duration_is_gone_after_it(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5, time_scale=1000)
    token = await sim.access_token()
    await sim.post("/_sim/faults", {"operation": "searchOrders", "fault": "http_500",
                                    "duration": 10})
    assert [await _search(sim, token) for _ in range(3)] == [500, 500, 500]
    sim.clock.advance(10.5)
    token = await sim.access_token()
    assert await _search(sim, token) == 200
    assert (await (await sim.client.get("/_sim/faults")).json()) == {"faults": []}


async def test_a_hang_holds_a_successful_answer(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5, time_scale=1000)
    token = await sim.access_token()
    await sim.post("/_sim/faults", {"operation": "searchOrders", "fault": "hang",
                                    "delay": 0.4})
    started = time.monotonic()
    assert await _search(sim, token) == 200
    assert time.monotonic() - started >= 0.4
    started = time.monotonic()
    assert await _search(sim, token) == 200
    assert time.monotonic() - started < 0.4
    status, body = await sim.post("/_sim/faults", {"operation": "searchOrders",
                                                   "fault": "hang"})
    assert status == 400 and "delay" in body["error"]


async def test_a_rejected_token_fault_fires_only_on_calls_that_carry_one(
        make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=30, time_scale=1000)
    token = await sim.access_token()
    await sim.post("/_sim/faults", {"operation": "searchOrders", "fault": "token_rejected"})
    resp = await sim.client.get(SEARCH, params={"lastUpdatedAfter": EPOCH,
                                                "maxResultsPerPage": "10"},
                                headers={"x-amz-access-token": token})
    first = await resp.json()
    assert resp.status == 200  # no token: the rule waits
    page_token = first["pagination"]["nextToken"]
    status, body, _ = await sim.get(SEARCH, token, {"lastUpdatedAfter": EPOCH,
                                                    "paginationToken": page_token})
    assert status == 400 and "expired" in body["errors"][0]["message"]
    status, _, _ = await sim.get(SEARCH, token, {"lastUpdatedAfter": EPOCH,
                                                 "paginationToken": page_token})
    assert status == 200  # the same token, once the fault has fired


async def test_an_lwa_outage_answers_503_until_it_ends(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    status, body = await sim.post("/_sim/faults", {"fault": "lwa_outage", "duration": 30})
    assert status == 200 and body["faults"][0]["operation"] == "lwa"
    listing = await sim.sellers()
    app, seller = listing["application"], listing["sellers"][0]
    form = {"grant_type": "refresh_token", "refresh_token": seller["refresh_token"],
            "client_id": app["client_id"], "client_secret": app["client_secret"]}
    status, body = await sim.token_response(**form)
    assert status == 503 and body["error"] == "temporarily_unavailable"
    sim.clock.advance(31)
    status, _ = await sim.token_response(**form)
    assert status == 200
    assert await _fired(sim) == {"lwa_outage": 1}


async def test_the_clock_moves_forward_and_expires_access_tokens(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=5, time_scale=1000)
    token = await sim.access_token()
    before = sim.clock.now()
    status, body = await sim.post("/_sim/clock", {"advance": 3601})
    assert status == 200 and body["now"] >= before + 3601
    assert await _search(sim, token) == 403
    status, body = await sim.post("/_sim/clock", {"advance": -1})
    assert status == 400


async def test_probability_must_be_a_share(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    for bad in (0, 1.5, "half"):
        status, body = await sim.post("/_sim/faults", {"operation": "searchOrders",
                                                       "fault": "http_500", "probability": bad})
        assert status == 400 and "probability" in body["error"]
