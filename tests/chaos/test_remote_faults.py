"""Remote faults: a flaky Amazon, all at once, while three sellers' streams keep syncing.

On every sync operation (searchOrders, getInventorySummaries, searchListingsItems) the
simulator answers 5% of the calls with a 5xx, holds 2% past the client's HTTP timeout,
cuts 1% mid-JSON and breaks the model in 1%; 3% of the calls that carry a pagination token
have it refused. One of each also fires for sure, so a small run meets every kind. In the
second round LWA goes down (2 minutes in the full run, 6 s a round in a shorter one) just as
every seller's access token expires. The streams are driven the way the task and the
dispatcher drive them (a failed run is simply run again; a retriable error or a long quota
wait too) until every stream is caught up.
``rounds`` (``--chaos-rounds``) rounds of changes are synced that way.

Checked: the mirror equals the simulator's truth (orders with their items, inventory,
listings); every committed page landed whole (each of its orders in the mirror at least at
that version, with items) and ``sync_runs.pages`` counts exactly the committed pages; every
fault the simulator fired is accounted for in ``sync_runs``; LWA meets no more refresh
attempts per seller during its outage than the shared cool-down allows; and after every
failed run the mirror holds no orphan or item-less row and no checkpoint is ahead of its rows.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text

from tests.chaos.conftest import checkpoints_ahead, integrity_problems
from tests.chaos.record import record
from tests.integration.helpers import (
    SimClock,
    lwa_attempts_bound,
    mirror,
    register,
    report_mirror,
    report_truth,
    table,
    truth,
)
from worker.runtime import Runtime
from worker.spapi.errors import QuotaWaitTooLong, RetriableError
from worker.sync import catalog, registry
from worker.sync.runner import StreamRun
from worker.sync.service import run_stream

CURRENT_APIS = {"orders_api_version": "2026-01-01", "finances_api_version": "2024-06-19"}
pytestmark = pytest.mark.chaos

OPERATIONS = ("searchOrders", "getInventorySummaries", "searchListingsItems")
# (fault, probability, delay)
FLAKY: list[tuple[str, float, float | None]] = [
    ("http_503", 0.03, None), ("http_500", 0.02, None), ("hang", 0.02, 1.5),
    ("truncated", 0.01, None), ("malformed", 0.01, None), ("token_rejected", 0.03, None),
]
HTTP_TIMEOUT = 0.5  # what a hang outlasts


def lwa_outage_seconds(rounds: int) -> float:
    """The issue's 2 minutes in the full run (20 rounds); 6 s a round in shorter runs."""
    return min(120.0, 6.0 * rounds)
OVERLAP = timedelta(seconds=5)
PATIENCE = 60.0  # seconds a stream may take to succeed in a round, beyond the LWA outage
AGAIN_AFTER = 0.25  # seconds before a failed run is run again (the task's retry, shortened)


# ---------------------------------------------------------------- oracles


def inventory_mirror(rt: Runtime, seller_id: int) -> dict[Any, Any]:
    return {(r.marketplace_id, r.seller_sku): (r.fulfillable_quantity, r.reserved_quantity,
                                               r.unfulfillable_quantity)
            for r in table(rt, "SELECT * FROM inventory_summaries WHERE seller_id = :s",
                           s=seller_id)}


def inventory_truth(sim: Any, spid: str) -> dict[Any, Any]:
    return {(t["marketplaceId"], t["sellerSku"]): (
        t["fulfillableQuantity"], t["reservedQuantity"], t["unfulfillableQuantity"])
        for t in sim.client.truth_inventory(spid)["inventory"]}


def listings_mirror(rt: Runtime, seller_id: int) -> dict[Any, Any]:
    return {(r.marketplace_id, r.seller_sku): (sorted(r.status), r.asin, r.price)
            for r in table(rt, "SELECT * FROM listings_items WHERE seller_id = :s",
                           s=seller_id)}


def listings_truth(sim: Any, spid: str) -> dict[Any, Any]:
    return {(t["marketplaceId"], t["sku"]): (sorted(t["status"]), t["asin"],
                                             Decimal(t["price"]))
            for t in sim.client.truth_listings(spid)["listings"]}


def divergence(rt: Runtime, sim: Any, ids: dict[str, int]) -> list[str]:
    """What differs from the truth: (seller, what, mirror only, truth only) descriptions."""
    out = []
    for spid, seller_id in ids.items():
        for what, got, want in (
                ("orders", mirror(rt, seller_id), truth(sim, spid)),
                ("inventory", inventory_mirror(rt, seller_id), inventory_truth(sim, spid)),
                ("listings", listings_mirror(rt, seller_id), listings_truth(sim, spid))):
            if got != want:
                wrong = {k: (got.get(k), v) for k, v in want.items() if got.get(k) != v}
                out.append(f"{spid} {what}: {len(wrong)} differ, e.g. "
                           f"{list(wrong.items())[:2]}")
    return out


class PageSpy:
    """Wraps the runner's page commit: after each, the page's orders must all be there."""

    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.committed: Counter[int] = Counter()  # run id -> pages committed
        self.partial: list[str] = []

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = StreamRun._store_page
        spy = self

        async def store_page(run: StreamRun[Any], body: Any, cp: Any) -> Any:
            after = await original(run, body, cp)
            spy.committed[run.run_id] += 1
            if run.spec.stream == "orders":
                spy.check_orders(run.seller.id, run.spec.page(body)[0])
            return after

        monkeypatch.setattr(StreamRun, "_store_page", store_page)

    def check_orders(self, seller_id: int, records: list[Any]) -> None:
        page = {r["orderId"]: datetime.fromisoformat(r["lastUpdatedTime"].replace("Z", "+00:00"))
                for r in records}
        if not page:
            return
        with self.rt.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT o.amazon_order_id, o.last_update_date, count(i.order_item_id) "
                "FROM orders o LEFT JOIN order_items i USING (seller_id, amazon_order_id) "
                "WHERE o.seller_id = :s AND o.amazon_order_id = ANY(:ids) "
                "GROUP BY o.amazon_order_id, o.last_update_date"),
                {"s": seller_id, "ids": list(page)}).all()
        landed = {oid: (lud, n) for oid, lud, n in rows}
        for oid, lud in page.items():
            got = landed.get(oid)
            if got is None or got[0] < lud or got[1] == 0:
                self.partial.append(f"seller {seller_id} order {oid}: page had {lud}, "
                                    f"mirror has {got}")


# ---------------------------------------------------------------- driving the streams


@dataclass
class Driver:
    """Runs streams the way the task and the dispatcher would, checking after each failure."""

    rt: Runtime
    sim: Any
    ids: dict[str, int]
    patience: float
    clock: SimClock  # the simulator's and the runs': moved forward, never slept through
    failures: list[str] = field(default_factory=list)

    async def until_succeeded(self, seller_id: int, stream: str) -> int:
        """Run one stream until a run succeeds; how many runs that took."""
        deadline = time.monotonic() + self.patience
        n = 0
        while time.monotonic() < deadline:
            n += 1
            try:
                outcome = await run_stream(self.rt, seller_id, stream, now=self.clock.now)
            except QuotaWaitTooLong as exc:
                await asyncio.sleep(min(exc.wait, 2.0))
                continue
            except RetriableError:  # the task's own retry, minus its long countdown
                self.after_failure()
                await asyncio.sleep(AGAIN_AFTER)
                continue
            if outcome.status == "succeeded":
                return n
            self.after_failure()
            await asyncio.sleep(AGAIN_AFTER)
        raise AssertionError(f"{stream} of seller {seller_id} never succeeded in "
                             f"{self.patience:.0f} s ({n} runs)")

    def after_failure(self) -> None:
        """A failed run must leave nothing half-written behind, and no checkpoint ahead."""
        self.failures += [f"{k}: {v}" for k, v in integrity_problems(self.rt).items()
                          if v and k != "runs still running"]
        self.failures += checkpoints_ahead(self.rt, self.sim, self.ids, OVERLAP)

    async def everything(self, pairs: list[tuple[int, str]]) -> int:
        return sum(await asyncio.gather(*(self.until_succeeded(s, stream)
                                          for s, stream in pairs)))


def change_the_world(clock: SimClock, spids: list[str], rng: random.Random) -> None:
    sim = clock.sim
    ahead = 1
    for spid in spids:
        for kind, most in (("orders", 25), ("inventory", 6), ("listings", 4)):
            changed = sim.client.mutate(spid, rng.randint(1, most), kind=kind)
            # the simulator stamps a thing changed n times in one second up to n - 1 s ahead
            ahead = max(ahead, *Counter(changed).values())
    clock.advance(ahead + sim.config.lag_seconds + 0.1)  # every stamp past "2 minutes ago"


def arm_faults(sim: Any) -> None:
    for operation in OPERATIONS:
        for fault, _, delay in FLAKY:  # one for sure, so even a small run meets each kind
            sim.client.fault(operation, fault, count=1, delay=delay)
    for operation in OPERATIONS:
        for fault, probability, delay in FLAKY:
            sim.client.fault(operation, fault, count=None, probability=probability,
                             delay=delay)


# ---------------------------------------------------------------- accounting


def fired_by_kind(sim: Any) -> Counter[str]:
    out: Counter[str] = Counter()
    for f in sim.client.faults_fired():
        out[f["fault"]] += int(f["fired"])
    return out


def lwa_attempts(sim: Any) -> dict[str, int]:
    """LWA refresh attempts the outage refused, per seller."""
    out: Counter[str] = Counter()
    for f in sim.client.faults_fired():
        if f["fault"] == "lwa_outage":
            out[f["seller_id"]] += int(f["fired"])
    return dict(out)


def recorded(rt: Runtime) -> dict[str, int]:
    (retries, throttled, api_calls, pages), = table(
        rt, "SELECT coalesce(sum(retries), 0), coalesce(sum(throttled), 0), "
            "coalesce(sum(api_calls), 0), coalesce(sum(pages), 0) FROM sync_runs")
    failed = dict(table(rt, "SELECT error_type, count(*) FROM sync_runs "
                            "WHERE status = 'failed' GROUP BY error_type"))
    return {"retries": int(retries), "throttled": int(throttled), "api_calls": int(api_calls),
            "pages": int(pages), **{f"failed {k}": int(v) for k, v in failed.items()}}


# ---------------------------------------------------------------- the scenario


def test_a_flaky_amazon_never_leaves_a_partial_page_or_an_unrecorded_fault(
        start_sim, runtime_for, monkeypatch, rounds, seed):
    rng = random.Random(seed)
    sim = start_sim(sellers=3, orders_per_seller=150, time_scale=1000, seed=seed % 1000 + 1)
    rt = runtime_for(sim, orders_page_size=10, http_timeout_seconds=HTTP_TIMEOUT,
                     orders_overlap_seconds=OVERLAP.total_seconds(), max_retries=3)
    ids = register(rt, sim)
    spids = list(ids)
    world = {s["selling_partner_id"]: s for s in sim.world()["sellers"]}
    pairs = [(ids[spid], stream) for spid in spids  # the streams of the faulted operations
             for stream in catalog.streams_for(world[spid]["marketplace_ids"])
             if registry.operation_of(stream, CURRENT_APIS) in OPERATIONS]
    spy = PageSpy(rt)
    spy.install(monkeypatch)
    arm_faults(sim)
    outage = lwa_outage_seconds(rounds)
    clock = SimClock(sim)
    driver = Driver(rt, sim, ids, patience=PATIENCE + outage, clock=clock)
    ahead: list[str] = []
    runs = 0
    started = time.monotonic()
    for round_no in range(rounds + 1):  # round 0: the first full sync
        if round_no:
            change_the_world(clock, spids, rng)
        if round_no == 1:  # LWA down just as every access token is refused as expired
            sim.client.fault(None, "lwa_outage", duration=outage)
            for spid in spids:
                sim.client.fault("searchOrders", "expired_token", seller_id=spid)
        runs += asyncio.run(driver.everything(pairs))
        ahead += checkpoints_ahead(rt, sim, ids, OVERLAP)
        assert divergence(rt, sim, ids) == [], f"round {round_no} did not converge"
    seconds = time.monotonic() - started

    fired, got = fired_by_kind(sim), recorded(rt)
    per_seller = lwa_attempts(sim)
    most = lwa_attempts_bound(outage, rt.settings.lwa_cooldown_seconds,
                              rt.settings.lwa_cooldown_max_seconds)
    figures = {"seed": seed, "rounds": rounds, "lwa_outage_s": outage, "runs": runs,
               "fired": dict(fired), "lwa_attempts_per_seller": per_seller,
               "lwa_attempts_bound": most, "recorded": got, "seconds": round(seconds, 1)}
    print(f"\nremote faults: {figures}")
    assert driver.failures == [], driver.failures[:5]
    assert ahead == [], ahead[:5]
    assert spy.partial == [], spy.partial[:5]
    pages_by_run = dict(table(rt, "SELECT id, pages FROM sync_runs WHERE pages > 0"))
    assert pages_by_run == dict(spy.committed)  # sync_runs counts exactly the committed pages
    assert all(fired[kind] >= 1 for kind, _, _ in FLAKY), fired
    # Every fault that asks for a call again is a retry in sync_runs, or the failure of its
    # run when the retries ran out (the last one is not retried): a 5xx, a hang (a timeout),
    # LWA down, a 429, an access token refused as expired (refreshed once), a refused page
    # token (the window restarts once; a second refusal in that window fails the run with
    # InputError)
    again = (fired["http_500"] + fired["http_503"] + fired["hang"] + fired["lwa_outage"]
             + got["throttled"] + fired["expired_token"] + fired["token_rejected"])
    assert got["retries"] + got.get("failed ServerError", 0) + got.get(
        "failed InputError", 0) == again, (again, got)
    # a body cut mid-JSON or breaking the model fails its run, typed; nothing lands
    assert got.get("failed MalformedResponseError", 0) == fired["truncated"] + fired["malformed"]
    # LWA down: every process waits out one shared cool-down per seller (a caller whose wait
    # would outlast its patience fails its run with LwaCoolingDown, not counted above);
    # before the cool-down, 3,692 attempts in the full run's 120 s outage
    assert per_seller and max(per_seller.values()) <= most, (per_seller, most)
    record("Remote faults", injected="5% 5xx, 2% hangs past the HTTP timeout, 1% truncated, "
                                     "1% schema-breaking bodies, 3% refused page tokens on "
                                     f"every sync operation; an LWA outage of {outage:g} s "
                                     "as every access token expires",
           checked="mirror = truth (orders+items, inventory, listings); committed pages whole "
                   "and counted exactly; every fault accounted in sync_runs; LWA attempts per "
                   "seller within the cool-down's bound; nothing half-written after a failed "
                   "run", result="pass", figures=figures)


# ---------------------------------------------------------------- reports: FATAL and 5xx

def test_a_fatal_report_amid_5xx_is_recorded_and_asked_again(start_sim, runtime_for, seed):
    from worker.db import sellers
    from worker.sync import backfill

    sim = start_sim(sellers=1, orders_per_seller=60, time_scale=1000, seed=seed % 1000 + 1,
                    history_days=75)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05,
                     http_timeout_seconds=HTTP_TIMEOUT, max_retries=3)
    ((spid, seller_id),) = register(rt, sim).items()
    sim.client.fault("createReport", "report_fatal")
    # createReport is only throttled: a 5xx or a hang hits it after Amazon created the report
    # (the FATAL one, here), and the retry asks for a second one; that report is then
    # nobody's (an observation, not checked here: docs/reliability.md)
    sim.client.fault("createReport", "throttle", retry_after=0.1)
    for operation in ("getReport", "getReportDocument"):
        sim.client.fault(operation, "http_503")  # one for sure, then 5%
        sim.client.fault(operation, "http_503", probability=0.05)
        sim.client.fault(operation, "hang", probability=0.02, delay=1.5)
    since = datetime.now(UTC) - timedelta(days=80)  # three 30-day report windows
    with rt.engine.begin() as conn:
        seller = sellers.get_seller(conn, seller_id, rt.keyring)
    attempts, failures = 0, []
    while attempts < 10:
        attempts += 1
        try:
            progress = asyncio.run(backfill.backfill_seller(rt, seller, "orders", since,
                                                            datetime.now(UTC)))
        except RetriableError as exc:  # the retries inside the client ran out: again
            failures.append(type(exc).__name__)
            continue
        failures += progress.failures
        if not progress.failures:
            break
    fired = fired_by_kind(sim)
    fatal = table(rt, "SELECT count(*) FROM reports WHERE error LIKE 'FATAL: %'")[0][0]
    print(f"\nreports: attempts {attempts}, fired {dict(fired)}, failures {failures}")
    assert fired["report_fatal"] == 1 and fatal == 1  # the FATAL one is kept, with its why
    assert fired["http_503"] >= 2 and fired["throttle"] == 1
    assert any("FATAL" in f for f in failures)
    assert report_mirror(rt, seller_id) == report_truth(sim, spid, since)
    assert not any(integrity_problems(rt).values())
