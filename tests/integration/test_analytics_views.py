"""The analytics views (migration 0008) against real Postgres, filled by syncing the
simulator plus a few rows written through worker.db.mirror for the edge cases.

Every expectation is computed here, in Python, from the base tables' rows (or the
simulator's own report), never from a view's output.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import os
import sys
from collections import Counter, defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy import create_engine, make_url, text

from simulator.config import SimConfig
from tests.conftest import Services, Sim, settings_for
from worker.db import mirror, sellers
from worker.db.engine import engine_for, migrate, sqlalchemy_url
from worker.db.rows import InventoryRow, ItemRow, ListingRow, OrderRow
from worker.runtime import Runtime
from worker.sync import backfill
from worker.sync.registry import INVENTORY, LISTINGS
from worker.sync.service import run_stream

from .helpers import register

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
FAST = {"report_poll_seconds": 0.02, "report_poll_max_seconds": 0.05}
UK, DE = "A1F83G8C2ARO7P", "A1PA6795UKMFR9"
SALES_TRAFFIC = "GET_SALES_AND_TRAFFIC_REPORT"


# --------------------------------------------------------------------------- the data


def sync_everything(rt, ids, world):
    for spid, seller_id in ids.items():
        for stream in ("orders", "finances"):
            assert asyncio.run(run_stream(rt, seller_id, stream)).status == "succeeded"
        for m in world[spid]["marketplace_ids"]:
            for kind in (INVENTORY, LISTINGS):
                outcome = asyncio.run(run_stream(rt, seller_id, kind.stream(m)))
                assert outcome.status == "succeeded", (kind.name, m)


def backfill_sales_traffic(rt, seller_id, since, until):
    with rt.engine.begin() as conn:
        seller = sellers.get_seller(conn, seller_id, rt.keyring)
    progress = asyncio.run(backfill.backfill_seller(rt, seller, "sales-traffic", since, until))
    assert not progress.failures and progress.done == progress.total


def edge_seller(rt):
    """A seller written through the mirror's own functions: one SKU sold the same day in two
    currencies, a cancelled order, a SKU in stock that never sold, a listing with issues."""
    with rt.engine.begin() as conn:
        seller_id = sellers.upsert_seller(
            conn, rt.keyring, selling_partner_id="AEDGECASES", region="EU",
            marketplace_ids=[UK, DE], refresh_token="Atzr|edge", streams=["orders"])
        day = datetime.now(UTC).replace(hour=9, minute=0, second=0, microsecond=0) \
            - timedelta(days=2)

        def order(oid, status, currency, price, qty, sku="EDGE-1", marketplace=UK, at=day):
            row = OrderRow(amazon_order_id=oid, order_status=status, purchase_date=at,
                           last_update_date=at, order_total=price, currency=currency,
                           marketplace_id=marketplace, fulfillment_channel="AFN",
                           api_version="2026-01-01", raw={"orderId": oid})
            item = ItemRow(amazon_order_id=oid, order_item_id=f"{oid}-1", seller_sku=sku,
                           asin="B0EDGE0001", title="Edge", quantity_ordered=qty,
                           quantity_shipped=qty if status == "SHIPPED" else 0,
                           item_price=price, currency=currency, raw={"orderItemId": oid})
            written = mirror.upsert_orders(conn, seller_id, [row])
            mirror.replace_items(conn, seller_id, written.ids, [item], new=written.new)

        order("202-0000001-0000001", "SHIPPED", "GBP", Decimal("10.5000"), 1)
        order("202-0000001-0000002", "UNSHIPPED", "EUR", Decimal("20.2500"), 2)
        order("202-0000001-0000003", "SHIPPED", "GBP", Decimal("4.0000"), 3)
        order("202-0000001-0000004", "CANCELLED", "GBP", Decimal("99.0000"), 5)
        order("202-0000001-0000005", "CANCELLED", "GBP", Decimal("7.0000"), 4, sku="EDGE-GONE")
        order("202-0000001-0000006", "SHIPPED", "GBP", Decimal("1.0000"), 8,
              at=day - timedelta(days=40))  # outside the 30 days of cover
        order("202-0000001-0000007", "PENDING", None, None, 1, sku="EDGE-1")  # not priced yet

        def stock(sku, fulfillable):
            return InventoryRow(
                marketplace_id=UK, seller_sku=sku, fn_sku=None, asin=None, condition="NewItem",
                product_name=sku, total_quantity=fulfillable + 7,
                fulfillable_quantity=fulfillable, inbound_working_quantity=1,
                inbound_shipped_quantity=None, inbound_receiving_quantity=3,
                reserved_quantity=2, unfulfillable_quantity=1, researching_quantity=0,
                last_updated_time=day, raw={"sellerSku": sku})

        mirror.upsert_inventory(conn, seller_id, [stock("EDGE-1", 40), stock("EDGE-IDLE", 12),
                                                  stock("EDGE-GONE", 5)])
        issues = [{"code": "90220", "message": "missing brand", "severity": "ERROR",
                   "categories": ["MISSING_ATTRIBUTE"], "attributeNames": ["brand"]},
                  {"code": "18027", "message": "image too small", "severity": "WARNING",
                   "categories": ["INVALID_IMAGE"]}]
        mirror.upsert_listings(conn, seller_id, [ListingRow(
            marketplace_id=UK, seller_sku="EDGE-1", asin="B0EDGE0001", product_type="LUGGAGE",
            item_name="Edge", condition_type="new_new", status=["DISCOVERABLE"], fn_sku=None,
            price=Decimal("10.5000"), currency="GBP", quantity=40, issues=issues,
            issue_count=2, error_count=1, created_date=day, last_updated_date=day,
            raw={"sku": "EDGE-1"})])
    return seller_id


@pytest.fixture(scope="module")
def analytics_db(services):
    """A database of this module's own: the data is built once and only read, and tests of
    other modules running in the same process empty the shared one (``clean``)."""
    name = f"spsync_analytics_{os.getpid()}"
    admin = create_engine(sqlalchemy_url(services.database_url), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(services.database_url).set(database=name).render_as_string(
        hide_password=False)
    migrate(url)
    yield Services(url, services.redis_url)
    engine_for(url).dispose()
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="module")
def world(analytics_db):
    """Three simulated sellers synced (orders, transactions, inventory and listings of every
    marketplace, one seller's sales & traffic backfilled), one seller's first orders sync
    throttled twice and its second one failed, plus the edge-case seller. Built once: every
    test only reads."""
    redis.Redis.from_url(analytics_db.redis_url).flushdb()
    sim = Sim(SimConfig(sellers=3, orders_per_seller=80, time_scale=1000, seed=21,
                        history_days=40))
    try:
        rt = Runtime(settings_for(analytics_db, sim, **FAST))
        ids = register(rt, sim)
        pw = {s["selling_partner_id"]: s for s in sim.world()["sellers"]}
        throttled = next(iter(ids))
        sim.client.fault("searchOrders", "throttle", count=2, seller_id=throttled)
        sync_everything(rt, ids, pw)
        sim.client.fault("searchOrders", "malformed", count=1, seller_id=throttled)
        assert asyncio.run(run_stream(rt, ids[throttled], "orders")).status == "failed"
        traffic = next(s for s, w in pw.items() if len(w["marketplace_ids"]) == 1)
        until = datetime.now(UTC)
        backfill_sales_traffic(rt, ids[traffic], until - timedelta(days=35), until)
        edge = edge_seller(rt)
        yield {"rt": rt, "sim": sim, "ids": ids, "edge": edge, "throttled": throttled,
               "traffic": traffic, "world": pw}
    finally:
        sim.stop()


def read(rt, *queries: str) -> tuple[datetime, list[list[Any]]]:
    """The database's now() and the queries' rows, all in one snapshot (one transaction:
    now() is the same for every query, so the 30-day and 24-hour windows agree)."""
    with rt.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
            conn.begin():
        now = conn.execute(text("SELECT now()")).scalar_one()
        return now, [[r._asdict() for r in conn.execute(text(q))] for q in queries]


def lines(orders, items):
    """Each item with its order's columns: the join, done here."""
    by_id = {(o["seller_id"], o["amazon_order_id"]): o for o in orders}
    return [(by_id[(i["seller_id"], i["amazon_order_id"])], i) for i in items]


# --------------------------------------------------------------------------- daily sales


def expected_daily_sales(orders, items):
    groups: dict[tuple, dict[str, Any]] = defaultdict(lambda: {
        "orders": set(), "units_ordered": 0, "units_shipped": 0, "sales": Decimal(0),
        "cancelled_orders": set(), "cancelled_units": 0})
    for o, i in lines(orders, items):
        day = o["purchase_date"].astimezone(UTC).date()
        g = groups[(o["seller_id"], o["marketplace_id"], day, i["seller_sku"], i["currency"])]
        if o["order_status"] == "CANCELLED":
            g["cancelled_orders"].add(o["amazon_order_id"])
            g["cancelled_units"] += i["quantity_ordered"]
        else:
            g["orders"].add(o["amazon_order_id"])
            g["units_ordered"] += i["quantity_ordered"]
            g["units_shipped"] += i["quantity_shipped"] or 0
            g["sales"] += i["item_price"] or 0
    return {k: (len(g["orders"]), g["units_ordered"], g["units_shipped"],
                g["sales"] if k[4] is not None else None, len(g["cancelled_orders"]),
                g["cancelled_units"]) for k, g in groups.items()}


def test_daily_sales_equal_the_orders_summed_per_day_sku_and_currency(world):
    _, (orders, items, view) = read(
        world["rt"], "SELECT * FROM orders", "SELECT * FROM order_items",
        "SELECT * FROM analytics_daily_sales")
    got = {(r["seller_id"], r["marketplace_id"], r["day"], r["seller_sku"], r["currency"]):
           (r["orders"], r["units_ordered"], r["units_shipped"], r["sales"],
            r["cancelled_orders"], r["cancelled_units"]) for r in view}
    assert len(got) == len(view), "one row per seller, marketplace, day, SKU and currency"
    assert got == expected_daily_sales(orders, items)
    assert len({r["seller_id"] for r in view}) == 4 and len({r["currency"] for r in view}) >= 3


def test_two_currencies_are_never_summed_and_cancelled_orders_count_apart(world):
    _, (view,) = read(world["rt"], "SELECT * FROM analytics_daily_sales WHERE seller_id = "
                                   f"{world['edge']} ORDER BY day, seller_sku, currency")
    day = (datetime.now(UTC) - timedelta(days=2)).date()
    edge1 = {r["currency"]: r for r in view if r["seller_sku"] == "EDGE-1" and r["day"] == day}
    assert set(edge1) == {"GBP", "EUR", None}
    assert (edge1["GBP"]["sales"], edge1["GBP"]["units_ordered"], edge1["GBP"]["orders"]) == \
        (Decimal("14.5000"), 4, 2)  # 10.50 + 4.00, never the EUR line, never the cancelled
    assert (edge1["EUR"]["sales"], edge1["EUR"]["units_ordered"]) == (Decimal("20.2500"), 2)
    assert (edge1["GBP"]["cancelled_orders"], edge1["GBP"]["cancelled_units"]) == (1, 5)
    assert (edge1[None]["sales"], edge1[None]["units_ordered"]) == (None, 1)  # unpriced
    gone = [r for r in view if r["seller_sku"] == "EDGE-GONE"]
    assert [(r["orders"], r["units_ordered"], r["sales"], r["cancelled_units"]) for r in gone] \
        == [(0, 0, Decimal(0), 4)]


# --------------------------------------------------------------------------- sales & traffic


def test_sales_and_traffic_take_the_newest_report_per_day(world):
    """The view reads sales_traffic_by_date (migration 0017), where a later report of a day
    replaced the earlier one: each day's row is from the newest report covering it."""
    rt = world["rt"]
    _, (reports, rows, view) = read(
        rt, f"SELECT * FROM reports WHERE report_type = '{SALES_TRAFFIC}'",
        "SELECT * FROM sales_traffic_by_date", "SELECT * FROM analytics_daily_sales_traffic")
    newest: dict[tuple, int] = {}
    for r in reports:
        day, last = r["data_start_time"].date(), r["data_end_time"].date()
        while day <= last:
            key = (r["seller_id"], r["marketplace_ids"][0], day)
            newest[key] = max(newest.get(key, 0), r["id"])
            day += timedelta(days=1)
    expected = {(r["seller_id"], r["marketplace_id"], r["date"].isoformat()):
                (r["ordered_product_sales_currency"], r["ordered_product_sales"],
                 r["units_ordered"], r["sessions"], r["report_id"]) for r in rows}
    assert all(v[4] == newest[(k[0], k[1], date.fromisoformat(k[2]))]
               for k, v in expected.items())
    got = {(r["seller_id"], r["marketplace_id"], r["day"].isoformat()):
           (r["currency"], r["ordered_product_sales"], r["units_ordered"], r["sessions"],
            r["report_id"]) for r in view}
    assert got == expected and len(got) >= 30


def test_a_full_days_report_units_equal_the_mirrored_orders_units(world):
    """Both views count a UTC day and leave cancelled orders out, so for a day the orders
    mirror holds completely they agree: the report's units = the orders' units."""
    rt, seller_id = world["rt"], world["ids"][world["traffic"]]
    _, (traffic, sales) = read(
        rt, f"SELECT * FROM analytics_daily_sales_traffic WHERE seller_id = {seller_id}",
        f"SELECT * FROM analytics_daily_sales WHERE seller_id = {seller_id}")
    today = datetime.now(UTC).date()
    units: Counter[Any] = Counter()
    for r in sales:
        units[(r["marketplace_id"], r["day"])] += r["units_ordered"]
    days = {(r["marketplace_id"], r["day"]): r["units_ordered"] for r in traffic
            if r["day"] < today - timedelta(days=1)}
    assert days and all(units[k] == v for k, v in days.items()), \
        {k: (v, units[k]) for k, v in days.items() if units[k] != v}
    assert sum(days.values()) > 0


# --------------------------------------------------------------------------- inventory


def test_inventory_position_and_days_of_cover(world):
    now, (stock, orders, items, view) = read(
        world["rt"], "SELECT * FROM inventory_summaries", "SELECT * FROM orders",
        "SELECT * FROM order_items", "SELECT * FROM analytics_inventory_position")
    sold: Counter[tuple] = Counter()
    for o, i in lines(orders, items):
        if o["order_status"] != "CANCELLED" and o["purchase_date"] >= now - timedelta(days=30):
            sold[(o["seller_id"], o["marketplace_id"], i["seller_sku"])] += i["quantity_ordered"]
    expected = {}
    for s in stock:
        key = (s["seller_id"], s["marketplace_id"], s["seller_sku"])
        units, fulfillable = sold[key], s["fulfillable_quantity"]
        cover = None if not units or fulfillable is None else (
            Decimal(fulfillable * 30) / Decimal(units)).quantize(Decimal("0.1"), ROUND_HALF_UP)
        inbound = sum(s[f"inbound_{k}_quantity"] or 0 for k in ("working", "shipped",
                                                                "receiving"))
        expected[key] = (fulfillable, inbound, s["reserved_quantity"], units, cover)
    got = {(r["seller_id"], r["marketplace_id"], r["seller_sku"]):
           (r["fulfillable"], r["inbound"], r["reserved"], r["units_sold_30d"],
            r["days_of_cover"]) for r in view}
    assert got == expected
    assert any(v[4] is not None for v in got.values()), "some SKU sold in the simulator"
    edge = world["edge"]
    # 1 + 2 (EUR) + 3 + 1 (unpriced) units; the cancelled 5 and the 40-day-old 8 are not
    assert got[(edge, UK, "EDGE-1")] == (40, 4, 2, 7, Decimal("171.4"))  # 40 / (7 / 30)
    assert got[(edge, UK, "EDGE-IDLE")][3:] == (0, None)  # no sales: no cover figure
    assert got[(edge, UK, "EDGE-GONE")][3:] == (0, None)  # its only order was cancelled


# --------------------------------------------------------------------------- listing issues


def test_listing_issues_are_one_row_per_open_issue(world):
    _, (listings, view) = read(world["rt"], "SELECT * FROM listings_items",
                               "SELECT * FROM analytics_listing_issues")
    expected = Counter((r["seller_id"], r["marketplace_id"], r["seller_sku"], i.get("code"),
                        i.get("severity"), i.get("message"))
                       for r in listings for i in r["issues"])
    got = Counter((r["seller_id"], r["marketplace_id"], r["seller_sku"], r["code"],
                   r["severity"], r["message"]) for r in view)
    assert got == expected
    edge = [r for r in view if r["seller_id"] == world["edge"]]
    assert sorted((r["severity"], r["attribute_names"]) for r in edge) == \
        [("ERROR", ["brand"]), ("WARNING", None)]


# --------------------------------------------------------------------------- sync health


def test_sync_health_shows_a_failed_runs_error_and_the_429s(world):
    rt = world["rt"]
    now, (state, runs, view) = read(rt, "SELECT * FROM sync_state", "SELECT * FROM sync_runs",
                                    "SELECT * FROM analytics_sync_health")
    day: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    last: dict[tuple, dict[str, Any]] = {}
    for r in sorted(runs, key=lambda r: (r["started_at"], r["id"])):
        key = (r["seller_id"], r["stream"])
        last[key] = r
        if r["started_at"] >= now - timedelta(hours=24):
            day[key].append(r)
    expected = {}
    for s in state:
        key = (s["seller_id"], s["stream"])
        runs_ = day[key]
        expected[key] = (
            None if s["cursor"] is None else now - s["cursor"], s["last_error"],
            last.get(key, {}).get("status"), last.get(key, {}).get("error"), len(runs_),
            sum(r["status"] == "failed" for r in runs_), sum(r["throttled"] for r in runs_),
            sum(r["api_calls"] for r in runs_))
    got = {(r["seller_id"], r["stream"]): (
        r["lag"], r["last_error"], r["last_run_status"], r["last_run_error"], r["runs_24h"],
        r["failed_runs_24h"], r["throttled_24h"], r["api_calls_24h"]) for r in view}
    assert got == expected
    _, last_error, status, run_error, runs_, failed, throttled, _ = \
        got[(world["ids"][world["throttled"]], "orders")]
    assert (status, runs_, failed, throttled) == ("failed", 2, 1, 2)
    assert last_error and last_error == run_error


# --------------------------------------------------------------------------- the dashboard


def dashboard_queries() -> list[tuple[str, str]]:
    board = json.loads((ROOT / "deploy/grafana/spsync-analytics.json").read_text())
    found = [(v["name"], v["query"]) for v in board["templating"]["list"]
             if v["type"] == "query"]
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            found.append((panel["title"], target["rawSql"]))
    return found


def grafana(sql: str, sellers_: list[str]) -> str:
    """Grafana's macros and variables as the Postgres data source expands them."""
    quoted = ",".join(f"'{s}'" for s in sellers_)
    out = sql.replace("${seller:singlequote}", quoted).replace("$seller", quoted)
    out = out.replace("$__timeFrom()", "(now() - interval '30 days')")
    out = out.replace("$__timeTo()", "now()")
    for macro in ("$__timeFilter(", "$__timeGroupAlias(", "$__time(", "$__unixEpoch"):
        assert macro not in out, f"expand {macro} here before using it"
    return out


def test_every_dashboard_query_runs_against_the_views(world):
    rt = world["rt"]
    spids = [*world["ids"], "AEDGECASES"]
    queries = dashboard_queries()
    assert len(queries) >= 8
    with rt.engine.begin() as conn:
        for title, sql in queries:
            rows = conn.execute(text(grafana(sql, spids))).all()
            assert rows, f"{title}: no rows on the simulator's data"


# --------------------------------------------------------------------------- examples/


def test_the_example_queries_run_on_the_simulators_data(world):
    spec = importlib.util.spec_from_file_location("analytics_examples",
                                                  ROOT / "examples/analytics.py")
    assert spec and spec.loader
    examples = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = examples  # a dataclass looks its module up there
    spec.loader.exec_module(examples)
    rt = world["rt"]
    results = {r.name: r for r in examples.run(rt.settings.database_url)}
    assert len(results) == len(list((ROOT / "examples/analytics").glob("*.sql")))
    assert all(r.rows for r in results.values()), [n for n, r in results.items() if not r.rows]
    for r in results.values():
        assert examples.table(r).count("\n") == len(r.rows) + 1

    # the first one, recomputed from the base tables
    now, (orders, items) = read(rt, "SELECT * FROM orders", "SELECT * FROM order_items")
    first = now.astimezone(UTC).date() - timedelta(days=30)
    spid = {v: k for k, v in world["ids"].items()} | {world["edge"]: "AEDGECASES"}
    units: Counter[tuple] = Counter()
    sales: dict[tuple, Decimal] = defaultdict(Decimal)
    for o, i in lines(orders, items):
        if o["purchase_date"].astimezone(UTC).date() >= first and \
                o["order_status"] != "CANCELLED":
            key = (spid[o["seller_id"]], o["marketplace_id"], i["currency"])
            units[key] += i["quantity_ordered"]
            sales[key] += i["item_price"] or 0
    by_currency = results["01_sales_by_seller_and_currency"]
    cols = by_currency.columns
    got = {(r[cols.index("seller")], r[cols.index("marketplace_id")], r[cols.index("currency")]):
           (r[cols.index("units")], r[cols.index("sales")] if r[cols.index("currency")] else 0)
           for r in by_currency.rows if r[cols.index("units")]}
    assert got == {k: (u, sales[k] if k[2] else 0) for k, u in units.items() if u}


def test_one_sellers_month_of_daily_sales_is_an_index_range_on_the_day(world):
    """Migration 0025: the view's day range reaches the index scan of the seller's orders, so
    a seller-month reads that month, not the seller's whole history. With scans of whole
    tables and bitmaps off (this mirror is small), the plan shows which index the planner can
    put the day into."""
    rt, seller_id = world["rt"], next(iter(world["ids"].values()))
    with rt.engine.connect() as conn, conn.begin():
        conn.execute(text("SET LOCAL enable_seqscan = off"))
        conn.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = "\n".join(conn.execute(text(
            "EXPLAIN SELECT * FROM analytics_daily_sales WHERE seller_id = :s "
            "AND day >= DATE '2026-11-01' AND day < DATE '2026-12-01'"),
            {"s": seller_id}).scalars())
    scan = next(line for line in plan.splitlines() if " on orders " in line)
    assert "orders_seller_day_idx" in scan, plan
    cond = plan.split(scan, 1)[1].splitlines()[1]
    assert "Index Cond" in cond and "purchase_date AT TIME ZONE" in cond and ">=" in cond, plan
