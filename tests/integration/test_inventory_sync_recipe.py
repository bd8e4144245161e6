"""The multi-marketplace inventory sync recipe (examples/inventory_sync.py) against real
Postgres, Redis and the simulator: a seller in three marketplaces (DE, FR and IT), a small
merchant stock per SKU, orders arriving in the background while the mirror syncs, the
consumer follows the feed and the outbox sweeps; a restock half-way.

At the end no marketplace is oversold in the simulator's truth, every marketplace offers
what the recipe last computed and the offers add up to no more than the stock, and the
audit holds exactly one ``seen`` row per change about a managed SKU and one decision per
computation. The same traffic without the recipe oversells, so the first check is not
vacuous.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from examples import inventory_sync as recipe
from worker.db import changes as feed
from worker.outbox import enqueue_command
from worker.outbox.run import Timing, process_due
from worker.runtime import Runtime
from worker.sync.registry import INVENTORY, LISTINGS
from worker.sync.service import run_stream

from .helpers import register, table

pytestmark = pytest.mark.integration

EU = 1  # seller 1 is the EU seller: DE, FR and IT with eu_marketplaces=3
STOCK = 6  # units per merchant SKU at the count
RESTOCK = 6
CHANGES_PER_MINUTE = 900.0  # per seller: about 6 new orders a second for ours
ORDERING_SECONDS = 30.0  # at least; longer (up to ORDERING_CAP) until some SKU sells out
ORDERING_CAP = 120.0
FAST = Timing(send_deadline=20.0, lease=timedelta(seconds=60), settle=timedelta(0),
              reconcile_window=timedelta(seconds=120), poll_first=0.0, poll_max=0.05,
              poll_timeout=timedelta(seconds=60), retry_base=0.0, retry_cap=0.0,
              max_attempts=3)


@dataclass
class Shop:
    sim: Any
    rt: Runtime
    spid: str
    seller_id: int
    markets: list[str]
    counted_at: datetime

    def sync(self) -> None:
        """One pass of the seller's streams: orders, listings and FBA stock per market."""
        streams = ["orders", *(LISTINGS.stream(m) for m in self.markets),
                   INVENTORY.stream(self.markets[0])]
        for stream in streams:
            asyncio.run(run_stream(self.rt, self.seller_id, stream))

    def sweep(self) -> int:
        return asyncio.run(process_due(self.rt, timing=FAST)).total

    def truth(self) -> dict[tuple[str, str], dict[str, Any]]:
        """(SKU, marketplace) -> truth row, merchant listings only."""
        return {(t["sku"], t["marketplaceId"]): t
                for t in self.sim.client.truth_listings(self.spid)["listings"]
                if t["onHand"] is not None}


def open_shop(start_sim: Any, runtime_for: Any) -> Shop:
    """The simulator with changes paused, every merchant SKU's stock counted at ``STOCK``
    in the simulator and in the recipe's stock table, the mirror synced once."""
    sim = start_sim(sellers=2, orders_per_seller=20, time_scale=1000, seed=11,
                    eu_marketplaces=3)
    rt = runtime_for(sim)
    seller = sim.world()["sellers"][EU]
    spid = seller["selling_partner_id"]
    seller_id = register(rt, sim)[spid]
    skus = sorted({sku for sku, _ in
                   Shop(sim, rt, spid, seller_id, [], datetime.now(UTC)).truth()})
    for sku in skus:
        sim.client.merchant_stock(spid, sku, on_hand=STOCK)
    # every order placed from now on counts against the count (order stamps are whole seconds)
    counted_at = datetime.fromtimestamp(math.floor(sim.client.advance_clock(0)), UTC)
    with rt.engine.begin() as conn:
        recipe.ensure_tables(conn)
        conn.execute(text("TRUNCATE inventory_sync_audit"))
        for sku in skus:
            recipe.record_count(conn, seller_id, sku, STOCK, counted_at)
    shop = Shop(sim, rt, spid, seller_id, list(seller["marketplace_ids"]), counted_at)
    shop.sync()
    return shop


class Running:
    """The consumer and the outbox sweep, each on a thread of its own, until stopped."""

    def __init__(self, shop: Shop, sync: recipe.InventorySync | None) -> None:
        self.stopped = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [threading.Thread(target=self._guard, args=(self._sweeps, shop))]
        if sync is not None:
            self.threads.append(threading.Thread(target=self._guard, args=(
                lambda s: recipe.run(s.rt.settings.database_url, stop=self.stopped.is_set,
                                     sync=sync, poll_seconds=0.2), shop)))
        for thread in self.threads:
            thread.start()

    def _guard(self, body: Callable[[Shop], None], shop: Shop) -> None:
        try:
            body(shop)
        except BaseException as error:
            self.errors.append(error)
            raise

    def _sweeps(self, shop: Shop) -> None:
        while not self.stopped.is_set():
            if not shop.sweep():
                time.sleep(0.1)

    def stop(self) -> None:
        self.stopped.set()
        for thread in self.threads:
            thread.join(30)
        assert not self.errors, self.errors


def caught_up(shop: Shop, within: float = 30.0) -> None:
    """Wait until the consumer has handled every change readable now."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with shop.rt.engine.begin() as conn:
            position = conn.execute(text("SELECT position FROM feed_consumers WHERE name = "
                                         ":n"), {"n": recipe.CONSUMER}).scalar()
            if position is not None and not feed.read(conn, int(position), 1) \
                    and not feed.pending_after(conn, int(position)):
                return
        time.sleep(0.1)
    raise AssertionError("the consumer did not catch up")


def mirrored(shop: Shop) -> bool:
    """The mirror holds every merchant offer as the simulator has it now. A listing changed
    several times in one second is stamped up to a few seconds ahead (the simulator keeps
    each listing's stamps strictly increasing, in whole seconds), and a window only reads up
    to now less the lag: until then a sync round can find nothing new although the mirror
    is behind."""
    offered = {(r[0], r[1]): r[2] for r in table(
        shop.rt, "SELECT seller_sku, marketplace_id, quantity FROM listings_items "
                 "WHERE seller_id = :s", s=shop.seller_id)}
    return all(offered.get(key) == t["quantity"] for key, t in shop.truth().items())


def settle(shop: Shop, within: float = 90.0) -> None:
    """Sync, let the consumer catch up and the outbox drain, until a round changes nothing
    and the mirror holds the simulator's offers."""
    before: tuple[Any, ...] = ()
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        shop.sync()
        caught_up(shop)
        while table(shop.rt, "SELECT count(*) FROM outbox WHERE status IN "
                             "('pending', 'sending', 'polling')")[0][0]:
            time.sleep(0.1)
        now = (table(shop.rt, "SELECT max(id) FROM outbox")[0][0],
               table(shop.rt, "SELECT count(*) FROM changes")[0][0])
        if now == before and mirrored(shop):
            return
        before = now
    raise AssertionError("the shop did not settle")


def restock(shop: Shop, sku: str) -> None:
    """Units arrive: the warehouse counts them in, and the seller offers just those in the
    first marketplace by hand (a patch of its own); the recipe spreads them."""
    shop.sim.client.merchant_stock(shop.spid, sku, add=RESTOCK)
    product_type = table(shop.rt, "SELECT product_type FROM listings_items WHERE seller_id = "
                                  ":s AND seller_sku = :k LIMIT 1", s=shop.seller_id, k=sku)[0][0]
    with shop.rt.engine.begin() as conn:
        recipe.record_receipt(conn, shop.seller_id, sku, RESTOCK)
        enqueue_command(conn, shop.seller_id, "patchListingsItem", recipe.patch(
            sku, recipe.Offer(shop.markets[0], product_type, None, datetime.now(UTC)), RESTOCK))


def down_to_buffer(shop: Shop) -> bool:
    """Some merchant SKU has no more than the safety buffer left in the warehouse."""
    return any(t["onHand"] <= recipe.SAFETY_BUFFER for t in shop.truth().values())


def trade(shop: Shop, sync: recipe.InventorySync | None) -> None:
    """Orders arrive while the mirror syncs, the consumer (unless None) follows and the
    outbox sweeps; then the orders stop and everything settles.

    Orders arrive for ``ORDERING_SECONDS``, and on until some SKU is down to the safety
    buffer (at most ``ORDERING_CAP``): on a loaded machine the recipe's patches land later,
    marketplaces offer nothing for longer and fewer units sell in the same time, so a fixed
    time alone would not always sell a SKU out."""
    running = Running(shop, sync)
    try:
        if sync is not None:
            settle(shop)  # the first offers are in place before anyone orders
        shop.sim.client.control(changes_per_minute=CHANGES_PER_MINUTE)
        start, restocked = time.monotonic(), False
        while time.monotonic() - start < ORDERING_SECONDS or (
                time.monotonic() - start < ORDERING_CAP and not down_to_buffer(shop)):
            shop.sync()
            if not restocked and time.monotonic() - start > ORDERING_SECONDS / 2:
                restock(shop, min(sku for sku, _ in shop.truth()))
                restocked = True
        shop.sim.client.control(changes_per_minute=0)
        if sync is not None:
            settle(shop)
    finally:
        running.stop()


def new_orders(shop: Shop) -> list[dict[str, Any]]:
    since = shop.counted_at.strftime("%Y-%m-%dT%H:%M:%SZ")
    return [o for o in shop.sim.client.truth(shop.spid)["orders"] if o["PurchaseDate"] >= since]


def expected_seen(shop: Shop) -> Counter[tuple[int, str, str, str]]:
    """(position, SKU, marketplace, entity) of every change the recipe had to see, worked out
    from the feed and the mirror independently of the recipe's SQL."""
    managed = {r[0] for r in table(shop.rt, "SELECT seller_sku FROM inventory_sync_stock")}
    orders: dict[str, set[tuple[str, str]]] = {}
    items: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for order_id, item_id, sku, market in table(shop.rt, """
            SELECT o.amazon_order_id, i.order_item_id, i.seller_sku, o.marketplace_id
            FROM orders o JOIN order_items i USING (seller_id, amazon_order_id)
            WHERE o.fulfillment_channel = 'MFN'"""):
        if sku in managed:
            orders.setdefault(order_id, set()).add((sku, market))
            items[(order_id, item_id)] = {(sku, market)}
    seen: Counter[tuple[int, str, str, str]] = Counter()
    with shop.rt.engine.begin() as conn:
        for change in feed.read(conn, 0, 1_000_000):
            key = change.key
            if change.entity == "orders":
                pairs = orders.get(key["amazon_order_id"], set())
            elif change.entity == "order_items":
                pairs = items.get((key["amazon_order_id"], key["order_item_id"]), set())
            elif change.entity == "inventory_summaries" or (
                    change.entity == "listings_items" and key["seller_sku"] in managed):
                pairs = {(key["seller_sku"], key["marketplace_id"])}
            else:
                pairs = set()
            for sku, market in pairs:
                seen[(change.position, sku, market, change.entity)] += 1
    return seen


def audit(shop: Shop) -> list[Any]:
    return table(shop.rt, "SELECT * FROM inventory_sync_audit ORDER BY id")


def test_no_marketplace_is_oversold_while_orders_arrive(start_sim: Any, runtime_for: Any,
                                                        capsys: Any) -> None:
    shop = open_shop(start_sim, runtime_for)
    trade(shop, recipe.InventorySync())
    truth, rows = shop.truth(), audit(shop)

    # no marketplace oversold, and the offers as they stand cannot oversell either
    assert {key: t["oversold"] for key, t in truth.items() if t["oversold"]} == {}
    per_sku: dict[str, list[dict[str, Any]]] = {}
    for (sku, _), t in truth.items():
        per_sku.setdefault(sku, []).append(t)
    assert {sku: (sum(t["quantity"] for t in ts), ts[0]["onHand"]) for sku, ts in per_sku.items()
            if sum(t["quantity"] for t in ts) > ts[0]["onHand"]} == {}

    # every marketplace offers what the recipe last computed for it
    last = {(r.seller_sku, r.marketplace_id): r.quantity for r in rows if r.step == "computed"}
    assert set(last) == set(truth)
    assert {key: (t["quantity"], last[key]) for key, t in truth.items()
            if t["quantity"] != last[key]} == {}

    # one seen row per change about a managed SKU (or FBA stock), none twice
    seen = Counter((int(r.position), r.seller_sku, r.marketplace_id, r.entity)
                   for r in rows if r.step == "seen")
    assert seen == expected_seen(shop)
    # one decision per computation; each queued patch is one accepted outbox row with its
    # quantity, and the recipe queued nothing else
    decisions = Counter((int(r.position), r.seller_sku, r.marketplace_id) for r in rows
                        if r.step in ("queued", "skipped") and r.entity is None)
    computed = Counter((int(r.position), r.seller_sku, r.marketplace_id) for r in rows
                       if r.step == "computed")
    assert decisions == computed
    queued = {r.outbox_id: r for r in rows if r.step == "queued"}
    outbox = {r.id: r for r in table(shop.rt, "SELECT id, status, params, idempotency_key FROM "
                                              "outbox WHERE idempotency_key LIKE :p",
                                     p=recipe.KEY_PREFIX + ":%")}
    assert set(outbox) == set(queued)
    for outbox_id, row in outbox.items():
        change = row.params["patches"][0]["value"][0]
        assert (row.status, change["quantity"], row.params["marketplaceIds"]) == (
            "accepted", queued[outbox_id].quantity, [queued[outbox_id].marketplace_id])
    assert {r.marketplace_id for r in queued.values()} == set(shop.markets)
    fba = [r for r in rows if r.step == "skipped" and r.entity == "inventory_summaries"]
    assert fba and all(r.reason.startswith("FBA") for r in fba)

    # the traffic was real: orders sold merchant stock down, some SKUs sold out (nothing
    # offered anywhere, at most the safety buffer left)
    orders, left = new_orders(shop), sum(ts[0]["onHand"] for ts in per_sku.values())
    sold_out = [sku for sku, ts in per_sku.items()
                if not any(t["quantity"] for t in ts) and ts[0]["onHand"] <= recipe.SAFETY_BUFFER]
    assert len(orders) >= 20 and sold_out
    with capsys.disabled():
        print(f"\ninventory sync: {len(orders)} orders, {len(per_sku)} merchant SKUs x "
              f"{len(shop.markets)} marketplaces, {len(outbox)} patches sent, "
              f"{len(rows)} audit rows, oversold 0; merchant units sold "
              f"{STOCK * len(per_sku) + RESTOCK - left}, left {left}, sold out {len(sold_out)}")


def test_the_same_traffic_without_the_recipe_oversells(start_sim: Any,
                                                       runtime_for: Any) -> None:
    shop = open_shop(start_sim, runtime_for)
    trade(shop, None)
    assert sum(t["oversold"] for t in shop.truth().values()) > 0
