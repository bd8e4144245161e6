"""The listings stream against real Postgres, real Redis and the simulator."""

from __future__ import annotations

import asyncio
from collections import Counter
from decimal import Decimal

import pytest
import structlog

from worker.db.sellers import upsert_seller
from worker.sync.catalog import streams_for
from worker.sync.listings import MAX_PAGED, PAGE_SIZE
from worker.sync.registry import INVENTORY, LISTINGS
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration


def listings(rt, seller_id):
    return {(r.marketplace_id, r.seller_sku): (
        sorted(r.status), r.asin, r.price, sorted((i["code"], i["severity"]) for i in r.issues),
        r.issue_count, r.error_count)
        for r in table(rt, "SELECT * FROM listings_items WHERE seller_id = :s", s=seller_id)}


def truth(sim, spid):
    out = {}
    for t in sim.client.truth_listings(spid)["listings"]:
        issues = sorted((i["code"], i["severity"]) for i in t["issues"])
        out[(t["marketplaceId"], t["sku"])] = (
            sorted(t["status"]), t["asin"], Decimal(t["price"]), issues, len(issues),
            sum(1 for _, severity in issues if severity == "ERROR"))
    return out


def sync_all(rt, seller_id, marketplaces, clock=None):
    now = {"now": clock.now} if clock else {}
    return [asyncio.run(run_stream(rt, seller_id, LISTINGS.stream(m), **now))
            for m in marketplaces]


def multi_market_seller(sim, ids):
    world = {s["selling_partner_id"]: s for s in sim.world()["sellers"]}
    spid = next(s for s, w in world.items() if len(w["marketplace_ids"]) > 1)  # US + CA
    return spid, ids[spid], world[spid]["marketplace_ids"]


def wait_out_stamps(sim, changed):
    """The simulator stamps a SKU changed n times in one second up to n-1 s ahead of now;
    a window ends at the run's start, so move both clocks until every stamp is in the past
    (the returned clock is the runner's)."""
    clock = SimClock(sim)
    clock.advance(max(Counter(changed).values()) + 0.1)
    return clock


def test_first_sync_equals_truth_then_an_incremental_run_follows_the_changes(start_sim,
                                                                           runtime_for):
    sim = start_sim(sellers=4, orders_per_seller=1, time_scale=1000, seed=31)
    rt = runtime_for(sim)
    ids = register(rt, sim)
    spid, seller_id, markets = multi_market_seller(sim, ids)
    outcomes = sync_all(rt, seller_id, markets)
    assert [o.status for o in outcomes] == ["succeeded"] * len(markets)
    expected = truth(sim, spid)
    skus = len(expected) // len(markets)
    assert all(o.totals.pages == -(-skus // PAGE_SIZE) > 1 for o in outcomes)  # really paged
    assert listings(rt, seller_id) == expected
    assert any(errors for *_, errors in expected.values())  # some listing has an ERROR issue
    state = table(rt, "SELECT cursor, next_token, window_start, last_error FROM sync_state "
                      "WHERE seller_id = :s AND stream LIKE 'listings:%'", s=seller_id)
    assert all(s.cursor and s.next_token is None and s.window_start is None
               and s.last_error is None for s in state) and len(state) == len(markets)

    (before,), = table(rt, "SELECT max(sync_version) FROM listings_items")
    changed = sim.client.mutate(spid, 6, kind="listings")
    clock = wait_out_stamps(sim, changed)
    again = sync_all(rt, seller_id, markets, clock)
    assert [o.status for o in again] == ["succeeded"] * len(markets)
    assert [o.totals.pages for o in again] == [1] * len(markets)  # only what changed lately
    rewritten = table(rt, "SELECT marketplace_id, seller_sku FROM listings_items "
                          "WHERE sync_version > :v", v=before)
    # the overlap re-reads, but rewrites nothing unchanged
    assert sorted(rewritten) == sorted((m, sku) for m in markets for sku in set(changed))
    assert listings(rt, seller_id) == truth(sim, spid)
    streams = {r[0] for r in table(rt, "SELECT stream FROM sync_state WHERE seller_id = :s",
                                   s=seller_id)}
    assert streams == set(streams_for(markets))  # every stream the registry names
    assert {"orders", *(INVENTORY.stream(m) for m in markets),
            *(f"listings:{m}" for m in markets)} <= streams


def test_the_mirror_keeps_the_whole_document_and_the_marketplaces_fields(start_sim,
                                                                       runtime_for):
    sim = start_sim(sellers=4, orders_per_seller=1, time_scale=1000, seed=31)
    rt = runtime_for(sim)
    _, seller_id, markets = multi_market_seller(sim, register(rt, sim))
    sync_all(rt, seller_id, markets)
    rows = table(rt, "SELECT * FROM listings_items WHERE seller_id = :s", s=seller_id)
    assert {r.source for r in rows} == {"api"}
    for r in rows:
        (summary,) = r.raw["summaries"]  # one marketplace asked, one summary back
        assert summary["marketplaceId"] == r.marketplace_id and r.raw["sku"] == r.seller_sku
        assert r.product_type == summary["productType"] and r.item_name == summary["itemName"]
        assert r.last_updated_date.isoformat().startswith(summary["lastUpdatedDate"][:19])
        (offer,) = r.raw["offers"]
        assert (r.currency, r.price) == (offer["price"]["currencyCode"],
                                         Decimal(offer["price"]["amount"]))
        assert r.quantity == sum(a["quantity"] for a in r.raw["fulfillmentAvailability"])
        assert set(r.raw) >= {"attributes", "issues", "fulfillmentAvailability"}


def test_an_expired_page_token_restarts_the_window(start_sim, runtime_for, monkeypatch):
    # At this time scale a page token lives 2 s (Amazon: 24 h).
    sim = start_sim(sellers=1, orders_per_seller=1, time_scale=43_200, seed=9)
    rt = runtime_for(sim, max_retries=0)
    (spid, seller_id), = register(rt, sim).items()
    (market, *_) = sim.world()["sellers"][0]["marketplace_ids"]
    from worker.sync.runner import StreamRun

    original = StreamRun._store_page
    stored = []

    async def store_then_arm_fault(self, body, cp):
        result = await original(self, body, cp)
        if not stored:  # page 1 is committed; the next response is cut mid-JSON
            sim.client.fault("searchListingsItems", "truncated", count=1)
        stored.append(result)
        return result

    monkeypatch.setattr(StreamRun, "_store_page", store_then_arm_fault)
    (failed,) = sync_all(rt, seller_id, [market])
    assert failed.status == "failed"
    assert table(rt, "SELECT count(*) FROM listings_items")[0][0] == PAGE_SIZE
    (st,) = table(rt, "SELECT next_token, window_start FROM sync_state WHERE stream = :s",
                  s=LISTINGS.stream(market))
    assert st.next_token and st.window_start  # the checkpoint sits right after page 1
    monkeypatch.setattr(StreamRun, "_store_page", original)

    clock = SimClock(sim)
    clock.advance(sim.config.pagination_ttl_seconds + 0.5)  # the stored token expires
    (resumed,) = sync_all(rt, seller_id, [market], clock)
    assert resumed.status == "succeeded"
    # The refused token counts as the run's one retry (a log capture missed it whenever the
    # runner's logger had been cached by an earlier test in the same process).
    assert table(rt, "SELECT retries FROM sync_runs WHERE stream = :s ORDER BY id DESC "
                 "LIMIT 1", s=LISTINGS.stream(market)) == [(1,)]
    skus = len(truth(sim, spid))
    # The stored window again from page 1, then one new window since its end (one page).
    assert resumed.totals.windows == 1
    assert resumed.totals.pages == -(-skus // PAGE_SIZE) + 1
    assert listings(rt, seller_id) == truth(sim, spid)


def test_a_search_amazon_cannot_page_to_the_end_is_logged_and_kept(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=1, time_scale=1000, seed=4,
                    catalog_size=MAX_PAGED + 30)
    rt = runtime_for(sim)
    (seller_id,) = register(rt, sim).values()
    (market, *_) = sim.world()["sellers"][0]["marketplace_ids"]
    with structlog.testing.capture_logs() as logs:
        (outcome,) = sync_all(rt, seller_id, [market])
    assert outcome.status == "succeeded" and outcome.totals.pages == MAX_PAGED // PAGE_SIZE
    assert table(rt, "SELECT count(*) FROM listings_items")[0][0] == MAX_PAGED
    (warning,) = [e for e in logs if e["event"] == "sync.listings_truncated"]
    assert warning["number_of_results"] == MAX_PAGED + 30
    assert "Atzr|" not in repr(logs)


def test_a_seller_registered_before_listings_gets_its_streams_by_registering_again(
        start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=5, time_scale=1000)
    rt = runtime_for(sim)
    (s,) = sim.world()["sellers"]
    older = ["orders", *(INVENTORY.stream(m) for m in s["marketplace_ids"])]

    def add(streams):
        with rt.engine.begin() as conn:
            return upsert_seller(conn, rt.keyring, selling_partner_id=s["selling_partner_id"],
                                 region=s["region"], marketplace_ids=s["marketplace_ids"],
                                 refresh_token=s["refresh_token"], streams=streams)

    seller_id = add(older)
    assert asyncio.run(run_stream(rt, seller_id, "orders")).status == "succeeded"
    (cursor,) = table(rt, "SELECT cursor FROM sync_state WHERE stream = 'orders'")
    assert add(streams_for(s["marketplace_ids"])) == seller_id
    streams = {r[0]: r[1] for r in table(rt, "SELECT stream, cursor FROM sync_state")}
    assert set(streams) == set(streams_for(s["marketplace_ids"]))
    assert streams["orders"] == cursor[0]  # existing streams keep their state
    assert [o.status for o in sync_all(rt, seller_id, s["marketplace_ids"])] == [
        "succeeded"] * len(s["marketplace_ids"])
    assert listings(rt, seller_id) == truth(sim, s["selling_partner_id"])


def test_a_listings_stream_for_a_marketplace_the_seller_lacks_is_refused(start_sim,
                                                                        runtime_for):
    from worker.sync.catalog import UnknownStreamError

    sim = start_sim(sellers=1, orders_per_seller=1, time_scale=1000)
    rt = runtime_for(sim)
    (seller_id,) = register(rt, sim).values()
    with pytest.raises(UnknownStreamError, match="listings:"):
        asyncio.run(run_stream(rt, seller_id, LISTINGS.stream("A1VC38T7YXB528")))
