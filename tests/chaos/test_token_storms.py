"""Token storms: many callers need a new LWA access token at the same instant.

- 100 callers (each with its own token provider, sharing only Redis, like 100 processes)
  hold a token their clock says has expired: exactly one LWA refresh.
- 100 concurrent SP-API calls present a token LWA's clock has expired (the simulator's
  clock jumps past it; ours does not know): each is refused, and still exactly one refresh.
- ``invalid_grant`` for one seller (the seller revoked us) while three others sync: that
  seller is disabled with its reason after one failed refresh; the others sync to truth.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
import redis.asyncio as aredis

from tests.chaos.conftest import register_orders_only
from tests.chaos.record import record
from tests.integration.helpers import KEYRING, SimClock, mirror, table, truth
from worker.ratelimit.backoff import Backoff
from worker.ratelimit.bucket import TokenBucket
from worker.runtime import Runtime
from worker.spapi.auth import LwaApp, LwaTokenProvider
from worker.spapi.client import SellerAuth, SpApiClient
from worker.sync.service import run_stream

pytestmark = pytest.mark.chaos

CALLERS = 100


def _app(sim: Any) -> LwaApp:
    world = sim.world()["application"]
    return LwaApp(world["client_id"], world["client_secret"], sim.url + "/auth/o2/token")


def _refreshes(sim: Any) -> int:
    return int(sim.client.stats()["lwa"]["refresh_grants"])


async def _tokens(sim: Any, redis_url: str, seller: dict[str, Any], *, n: int,
                  clock: Any = time.time) -> list[Any]:
    async with aiohttp.ClientSession() as session:
        r = aredis.Redis.from_url(redis_url)
        try:
            providers = [LwaTokenProvider(session, r, _app(sim), keyring=KEYRING,
                                          clock=clock) for _ in range(n)]
            return await asyncio.gather(*(
                p.access_token(seller["selling_partner_id"], seller["refresh_token"])
                for p in providers), return_exceptions=True)
        finally:
            await r.aclose()


def test_a_hundred_callers_with_an_expired_token_cause_one_refresh(start_sim, clean, rounds):
    sim = start_sim(sellers=1, orders_per_seller=1)
    seller = sim.world()["sellers"][0]
    first = asyncio.run(_tokens(sim, clean.redis_url, seller, n=CALLERS))
    assert len(set(first)) == 1 and _refreshes(sim) == 1
    seen = set(first)
    for storm in range(1, rounds + 1):  # each storm: one hour later by our clock
        later = time.time() + storm * 3600 + 60
        tokens = asyncio.run(_tokens(sim, clean.redis_url, seller, n=CALLERS,
                                     clock=lambda later=later: later))
        assert not [t for t in tokens if not isinstance(t, str)], tokens[:3]
        assert len(set(tokens)) == 1 and tokens[0] not in seen
        seen |= set(tokens)
        assert _refreshes(sim) == 1 + storm  # exactly one more per storm
    record("Token storm (client clock)", injected=f"{CALLERS} callers x {rounds} storms with "
                                                  "a token expired by their clock",
           checked="exactly one LWA refresh per storm", result="pass",
           figures={"refreshes": _refreshes(sim), "storms": rounds})


async def _api_storm(sim: Any, redis_url: str, seller: dict[str, Any], order_id: str,
                     n: int) -> list[Any]:
    """``n`` getOrder calls at once, each through its own client and token provider."""
    auth = SellerAuth(seller["selling_partner_id"], seller["region"], seller["refresh_token"])
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
        r = aredis.Redis.from_url(redis_url)
        try:
            clients = [SpApiClient(session, LwaTokenProvider(session, r, _app(sim),
                                                            keyring=KEYRING),
                                   TokenBucket(r), base_url=sim.url, max_inline_wait=30,
                                   backoff=Backoff(0.01, 0.2, 5)) for _ in range(n)]
            return await asyncio.gather(*(
                c.call(auth, "getOrder", path_params={"orderId": order_id})
                for c in clients), return_exceptions=True)
        finally:
            await r.aclose()


def test_a_hundred_calls_refused_for_a_server_expired_token_cause_one_refresh(
        start_sim, clean, rounds):
    # getOrder: 0.5/s x 1000 = 500 calls/s, burst 30
    sim = start_sim(sellers=1, orders_per_seller=3, time_scale=1000)
    seller = sim.world()["sellers"][0]
    spid = seller["selling_partner_id"]
    order_id = sim.client.truth(spid)["orders"][0]["AmazonOrderId"]
    warm = asyncio.run(_api_storm(sim, clean.redis_url, seller, order_id, 1))
    assert warm[0].status == 200 and _refreshes(sim) == 1
    for storm in range(1, rounds + 1):
        sim.client.advance_clock(3601)  # every access token issued so far: expired at LWA
        results = asyncio.run(_api_storm(sim, clean.redis_url, seller, order_id, CALLERS))
        failed = [r for r in results if isinstance(r, BaseException)]
        assert failed == [], failed[:3]
        assert _refreshes(sim) == 1 + storm  # 100 refusals, one refresh
    calls = sum(b["calls"] for b in sim.client.stats()["buckets"])
    throttled = sum(b["throttled"] for b in sim.client.stats()["buckets"])
    print(f"\nserver-expired storms: {rounds}, refreshes {_refreshes(sim)}, calls {calls}, "
          f"throttled {throttled}")
    record("Token storm (LWA clock)", injected=f"{CALLERS} concurrent calls x {rounds} storms "
                                               "presenting a token LWA has expired",
           checked="every call succeeds after exactly one LWA refresh per storm",
           result="pass", figures={"refreshes": _refreshes(sim), "calls": calls})


def _pages(rt: Runtime, seller_id: int) -> int:
    return int(table(rt, "SELECT coalesce(sum(pages), 0) FROM sync_runs WHERE seller_id = :s",
                     s=seller_id)[0][0])


def test_invalid_grant_disables_one_seller_while_three_others_sync(start_sim, runtime_for):
    # searchOrders: 0.0056/s x 300 = 1.7 pages/s per seller after a burst of 20: 30 pages of
    # 10 take each seller some 7 s, all four at once
    sim = start_sim(sellers=4, orders_per_seller=300, time_scale=300, seed=17)
    rt = runtime_for(sim, orders_page_size=10, orders_max_window_hours=24 * 90)
    ids = register_orders_only(rt, sim)
    revoked, *others = list(ids)

    async def revoke_mid_sync() -> None:
        for _ in range(600):  # the revoked seller has committed a few pages
            if _pages(rt, ids[revoked]) >= 3:
                break
            await asyncio.sleep(0.05)
        sim.client.revoke(revoked)
        # its cached access token is refused as expired: the refresh meets invalid_grant
        sim.client.fault("searchOrders", "expired_token", seller_id=revoked)

    async def everything() -> list[Any]:
        syncs = [run_stream(rt, seller_id, "orders") for seller_id in ids.values()]
        return list(await asyncio.gather(*syncs, revoke_mid_sync()))[:-1]

    outcomes = dict(zip(ids, asyncio.run(everything()), strict=True))
    rows = {r.selling_partner_id: r for r in table(
        rt, "SELECT selling_partner_id, enabled, disabled_reason FROM sellers")}
    assert outcomes[revoked].status == "failed"
    assert not rows[revoked].enabled
    assert rows[revoked].disabled_reason.startswith("invalid_grant: ")
    assert "Atzr|" not in rows[revoked].disabled_reason  # no secret in the reason
    (run,) = table(rt, "SELECT status, error_type, pages FROM sync_runs WHERE seller_id = :s",
                   s=ids[revoked])
    assert (run.status, run.error_type) == ("failed", "InvalidGrantError") and run.pages >= 3
    assert sim.client.stats()["lwa"]["errors"] == 1  # one refused refresh, no retry storm
    for spid in others:
        assert outcomes[spid].status == "succeeded"
        assert rows[spid].enabled
        assert mirror(rt, ids[spid]) == truth(sim, spid)

    # the others keep syncing what changes; the disabled seller is left alone
    for spid in ids:
        sim.client.mutate(spid, 5)
    clock = SimClock(sim)
    clock.advance(sim.config.lag_seconds + 5.1)  # 5 changes in one second: stamped up to 4 s on
    again = {spid: asyncio.run(run_stream(rt, ids[spid], "orders", now=clock.now)).status
             for spid in ids}
    assert again == {revoked: "skipped", **dict.fromkeys(others, "succeeded")}
    assert all(mirror(rt, ids[spid]) == truth(sim, spid) for spid in others)
    record("invalid_grant amid syncs", injected="one of four sellers revokes mid-sync",
           checked="it is disabled with its reason after one refused refresh; the other "
                   "three sync to truth, twice", result="pass")
