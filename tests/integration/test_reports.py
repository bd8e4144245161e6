"""Reports lifecycle and report-based backfill against real Postgres, Redis and the simulator."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import text

from worker.db import sellers
from worker.db.reports import ReportRequest
from worker.ratelimit.bucket import Priority
from worker.sync import backfill, report_types
from worker.sync.registry import INVENTORY
from worker.sync.reports import ReportJob, obtain
from worker.sync.service import run_stream

from .helpers import register, report_mirror, report_truth, table

pytestmark = pytest.mark.integration

FAST = {"report_poll_seconds": 0.02, "report_poll_max_seconds": 0.05}


def calls(sim, spid, operation):
    return sum(b["calls"] for b in sim.client.stats()["buckets"]
               if b["seller_id"] == spid and b["operation"] == operation)


def seller(rt, seller_id):
    with rt.engine.begin() as conn:
        return sellers.get_seller(conn, seller_id, rt.keyring)


def run_backfill(rt, seller_id, stream="orders", since=None, until=None):
    until = until or datetime.now(UTC)
    return asyncio.run(backfill.backfill_seller(rt, seller(rt, seller_id), stream, since, until))


@pytest.fixture
def one_seller(start_sim, runtime_for):
    def make(**knobs):
        knobs = {"sellers": 1, "orders_per_seller": 60, "time_scale": 1000, "seed": 5,
                 "history_days": 75, **knobs}
        sim = start_sim(**knobs)
        rt = runtime_for(sim, **FAST)
        ids = register(rt, sim)
        spid = next(s["selling_partner_id"] for s in sim.world()["sellers"]
                    if len(s["marketplace_ids"]) == max(len(w["marketplace_ids"])
                                                        for w in sim.world()["sellers"]))
        return sim, rt, spid, ids[spid]
    return make


def test_orders_backfill_equals_truth_and_a_rerun_asks_and_writes_nothing(one_seller):
    sim, rt, spid, seller_id = one_seller()
    since = datetime.now(UTC) - timedelta(days=80)
    progress = run_backfill(rt, seller_id, since=since)
    assert progress.total == 3 and progress.done == 3 and not progress.failures
    assert progress.rejected == 0 and progress.written == len(report_truth(sim, spid, since))
    assert report_mirror(rt, seller_id) == report_truth(sim, spid, since)
    created = calls(sim, spid, "createReport")
    assert created == 3

    (version,), = table(rt, "SELECT max(sync_version) FROM orders")
    again = run_backfill(rt, seller_id, since=since, until=None)
    # the same windows are skipped; only the last one (its end moved to "now") is asked again
    assert again.skipped == 2 and calls(sim, spid, "createReport") == created + 1
    assert table(rt, "SELECT count(*) FROM orders WHERE sync_version > :v", v=version) == [(0,)]
    (dupes,), = table(rt, "SELECT count(*) - count(DISTINCT (amazon_order_id, order_item_id)) "
                          "FROM order_items WHERE seller_id = :s", s=seller_id)
    assert dupes == 0


def test_backfill_hands_over_to_api_paging_at_its_end(one_seller):
    _sim, rt, _spid, seller_id = one_seller()
    until = datetime.now(UTC) - timedelta(hours=6)
    run_backfill(rt, seller_id, since=until - timedelta(days=40), until=until)
    (cursor,), = table(rt, "SELECT cursor FROM sync_state WHERE seller_id = :s "
                           "AND stream = 'orders'", s=seller_id)
    assert cursor == until
    outcome = asyncio.run(run_stream(rt, seller_id, "orders"))
    assert outcome.status == "succeeded"
    (first_window,), = table(rt, "SELECT min(started_at) FROM sync_runs WHERE seller_id = :s",
                             s=seller_id)
    # API pages only covered what changed after the backfill's end: those orders are API rows
    api_rows = table(rt, "SELECT last_update_date FROM orders WHERE seller_id = :s "
                         "AND source = 'api'", s=seller_id)
    assert api_rows and min(r[0] for r in api_rows) >= until - timedelta(minutes=5)
    assert first_window is not None


def test_a_report_created_by_a_lost_worker_is_resumed_not_created_again(one_seller):
    sim, rt, spid, seller_id = one_seller(report_delay_seconds=3000)  # 3 s at time_scale 1000
    since = datetime.now(UTC) - timedelta(days=20)
    until = datetime.now(UTC) - timedelta(minutes=10)
    (req,) = backfill.plan_requests(seller(rt, seller_id), "orders", since, until)

    async def created_then_lost():
        async with rt.spapi() as client:
            with rt.engine.connect() as conn:
                job = ReportJob(client, conn, seller(rt, seller_id), Priority.BACKFILL)
                return await obtain(job, req)  # the worker dies right after this commit

    first = asyncio.run(created_then_lost())
    assert first.processing_status == "IN_QUEUE"
    progress = run_backfill(rt, seller_id, since=since, until=until)
    assert not progress.failures and calls(sim, spid, "createReport") == 1
    assert table(rt, "SELECT report_id, ingest_status FROM reports") == [
        (first.report_id, "ingested")]
    assert report_mirror(rt, seller_id) == {
        k: v for k, v in report_truth(sim, spid, since).items() if v[1] <= until}


def test_expired_url_and_truncated_gzip_are_downloaded_again(one_seller):
    sim, rt, spid, seller_id = one_seller()
    since = datetime.now(UTC) - timedelta(days=25)
    sim.client.fault("getReportDocument", "document_expired")
    sim.client.fault("getReportDocument", "document_truncated_gzip")
    progress = run_backfill(rt, seller_id, since=since)
    assert not progress.failures
    assert table(rt, "SELECT ingest_status, downloads FROM reports") == [("ingested", 3)]
    assert report_mirror(rt, seller_id) == report_truth(sim, spid, since)


def test_a_document_that_stays_truncated_fails_the_window_and_writes_no_half_order(one_seller):
    sim, rt, spid, seller_id = one_seller()
    since = datetime.now(UTC) - timedelta(days=25)
    sim.client.fault("getReportDocument", "document_truncated_gzip", count=3)
    progress = run_backfill(rt, seller_id, since=since)
    assert len(progress.failures) == 1
    ((status, error),) = table(rt, "SELECT ingest_status, error FROM reports")
    assert status == "failed" and "TruncatedDocumentError" in error
    truth = report_truth(sim, spid, since)
    for oid, got in report_mirror(rt, seller_id).items():
        assert got == truth[oid]  # whatever landed is whole orders
    (cursor,), = table(rt, "SELECT cursor FROM sync_state WHERE seller_id = :s "
                           "AND stream = 'orders'", s=seller_id)
    assert cursor is None  # a failed backfill hands nothing over
    assert not run_backfill(rt, seller_id, since=since).failures  # a re-run asks again
    assert report_mirror(rt, seller_id) == truth


def test_a_malformed_row_is_recorded_and_the_rest_lands(one_seller):
    sim, rt, spid, seller_id = one_seller()
    since = datetime.now(UTC) - timedelta(days=25)
    sim.client.fault("getReportDocument", "document_malformed_row")
    progress = run_backfill(rt, seller_id, since=since)
    assert progress.rejected >= 1 and not progress.failures
    rejected = table(rt, "SELECT line, error, data->>'amazon-order-id' FROM report_rows "
                         "ORDER BY line")
    assert [r[0] for r in rejected] == sorted(r[0] for r in rejected) and rejected[0][0] > 1
    broken = [r for r in rejected if "columns" in r[1]]
    assert len(broken) == 1  # the broken row; the others are its order's other rows
    (order_id,) = {r[2] for r in rejected}
    assert table(rt, "SELECT rows_rejected FROM reports") == [(len(rejected),)]
    truth = report_truth(sim, spid, since)
    mirror = report_mirror(rt, seller_id)
    assert set(truth) - set(mirror) == {order_id}  # the order with a broken row, whole
    assert all(truth[oid] == got for oid, got in mirror.items())


def test_a_batch_that_fails_to_write_stops_the_ingest_and_keeps_the_batches_before_it(
        one_seller, monkeypatch):
    from functools import partial

    from worker.db import mirror
    from worker.sync import reports

    _, rt, _, seller_id = one_seller()
    monkeypatch.setattr(reports, "sink_for", partial(report_types.sink_for, batch=5))
    upsert, batches = mirror.upsert_orders_steps, []

    def third_fails(conn, seller, rows, **kw):  # the database refusing batch 3, say
        batches.append(len(rows))
        if len(batches) == 3:
            raise RuntimeError("batch 3 refused")
        return (yield from upsert(conn, seller, rows, **kw))

    monkeypatch.setattr(mirror, "upsert_orders_steps", third_fails)
    with pytest.raises(RuntimeError, match="batch 3 refused"):
        run_backfill(rt, seller_id, since=datetime.now(UTC) - timedelta(days=25))
    # the failure ends the ingest: no later batch is written, the earlier ones stay
    assert batches == [5, 5, 5]
    assert table(rt, "SELECT count(*) FROM orders") == [(10,)]
    (read,), = table(rt, "SELECT rows_read FROM reports")
    assert read >= 10  # the two committed batches' lines, counted with them


def test_a_batch_paused_on_the_server_when_the_reading_fails_is_kept(one_seller, monkeypatch):
    """A batch's write pauses while the next batch is read (reports._batch_steps): its
    COPY is still running on the server when the next line is read. A reading that fails
    then (a truncated download, say) keeps that batch, whole."""
    from functools import partial

    from worker.db import upsert
    from worker.spapi.errors import ServerError
    from worker.sync import reports

    _, rt, _, seller_id = one_seller()
    monkeypatch.setattr(upsert, "_WAY", {})  # nothing learnt about this seller yet
    monkeypatch.setattr(reports, "sink_for", partial(report_types.sink_for, batch=5))
    started, seen, rows = [], [], reports.table_rows
    batch_steps = reports._batch_steps

    def spied(job, *a, **kw):
        started.append(job.conn.connection.driver_connection.info.backend_pid)
        return batch_steps(job, *a, **kw)

    async def fails_after_the_first_batch(source):
        before = len(started)  # each download: a fresh reading
        async for row in rows(source):
            if len(started) > before:  # batch 1 is written up to its pause; no next line
                seen.extend(table(rt, "SELECT state, query FROM pg_stat_activity "
                                      "WHERE pid = :p", p=started[-1]))
                raise ServerError("the download broke", operation="download")
            yield row

    monkeypatch.setattr(reports, "_batch_steps", spied)
    monkeypatch.setattr(reports, "table_rows", fails_after_the_first_batch)
    progress = run_backfill(rt, seller_id, since=datetime.now(UTC) - timedelta(days=25))
    assert len(progress.failures) == 1  # three downloads, each broken after batch 1
    # while the next line was read: 1st download, batch 1's new items still on their way
    # (its orders were probed first: nothing learnt yet); 2nd, its orders (learnt: all new);
    # 3rd, nothing (learnt: all stored, so merged at once, no pause)
    assert [(state, query.split(" (")[0]) for state, query in seen] == [
        ("active", 'COPY "order_items"'), ("active", 'COPY "orders"'), ("idle", "COMMIT")]
    assert table(rt, "SELECT count(*) FROM orders") == [(5,)]
    (items,), = table(rt, "SELECT count(*) FROM order_items")
    assert items >= 5
    assert table(rt, "SELECT rows_written FROM reports") == [(5,)]  # with its counters


def test_fatal_keeps_the_error_document_and_cancelled_is_no_data(one_seller):
    sim, rt, _spid, seller_id = one_seller()
    since = datetime.now(UTC) - timedelta(days=25)
    sim.client.fault("createReport", "report_fatal")
    progress = run_backfill(rt, seller_id, since=since)
    assert len(progress.failures) == 1
    ((status, error),) = table(rt, "SELECT ingest_status, error FROM reports")
    assert status == "failed" and error.startswith("FATAL: ") and "internal error" in error

    sim.client.fault("createReport", "report_cancelled")
    progress = run_backfill(rt, seller_id, "inventory")
    assert not progress.failures
    assert table(rt, "SELECT processing_status, ingest_status FROM reports "
                     "WHERE report_type = :t", t=report_types.FBA_MYI) == [
        ("CANCELLED", "no_data")]


def test_inventory_and_listings_snapshots_land_and_api_rows_win(one_seller):
    sim, rt, spid, seller_id = one_seller(sellers=4)  # one of them sells in US and CA
    assert not run_backfill(rt, seller_id, "inventory").failures
    truth = {(t["marketplaceId"], t["sellerSku"]): (t["fulfillableQuantity"],
                                                    t["unfulfillableQuantity"])
             for t in sim.client.truth_inventory(spid)["inventory"]}
    mirror = {(m, s): (f, u) for m, s, f, u in table(
        rt, "SELECT marketplace_id, seller_sku, fulfillable_quantity, unfulfillable_quantity "
            "FROM inventory_summaries WHERE seller_id = :s AND source = 'report'", s=seller_id)}
    assert mirror == truth and len({m for m, _ in truth}) > 1

    assert not run_backfill(rt, seller_id, "listings").failures
    listings = {(m, sku): (asin, price, "BUYABLE" in status) for m, sku, asin, price, status in
                table(rt, "SELECT marketplace_id, seller_sku, asin, price, status "
                          "FROM listings_items WHERE seller_id = :s", s=seller_id)}
    assert listings == {(t["marketplaceId"], t["sku"]): (
        t["asin"], Decimal(t["price"]), "BUYABLE" in t["status"])
        for t in sim.client.truth_listings(spid)["listings"]}

    # the API's richer row replaces a report row; a report never replaces an API row
    market = sorted(m for m, _ in truth)[0]
    asyncio.run(run_stream(rt, seller_id, INVENTORY.stream(market)))
    assert table(rt, "SELECT count(*) FROM inventory_summaries WHERE seller_id = :s AND "
                     "marketplace_id = :m AND source = 'report'", s=seller_id, m=market) == [(0,)]
    (version,), = table(rt, "SELECT max(sync_version) FROM inventory_summaries")
    sim.client.mutate(spid, 5, kind="inventory")
    run_backfill(rt, seller_id, "inventory")  # newer snapshot, but rows without a time
    assert table(rt, "SELECT count(*) FROM inventory_summaries WHERE sync_version > :v "
                     "AND marketplace_id = :m", v=version, m=market) == [(0,)]


def test_sales_and_traffic_backfill_lands_days_typed_and_asin_totals_in_report_rows(one_seller):
    """A backfill's multi-day report: each day a sales_traffic_by_date row; its per-ASIN
    totals (of the whole range, no day) stay in report_rows as read."""
    _sim, rt, _spid, seller_id = one_seller()
    since = datetime.now(UTC) - timedelta(days=10)
    progress = run_backfill(rt, seller_id, "sales-traffic", since=since)
    assert not progress.failures and progress.rows > 0
    days = table(rt, "SELECT count(DISTINCT date) FROM sales_traffic_by_date "
                     "WHERE seller_id = :s", s=seller_id)
    assert days[0][0] >= 10
    keys = [r[0] for r in table(rt, "SELECT record_key FROM report_rows WHERE report_type = :t",
                                t=report_types.SALES_AND_TRAFFIC)]
    assert keys and all(k.startswith("asin:") for k in keys)
    assert table(rt, "SELECT count(*) FROM sales_traffic_by_asin") == [(0,)]


def test_dry_run_says_what_would_happen_without_calling_amazon(one_seller):
    sim, rt, spid, seller_id = one_seller()
    since = datetime.now(UTC) - timedelta(days=45)
    until = datetime.now(UTC) - timedelta(hours=1)
    plan = backfill.dry_run(rt, seller(rt, seller_id), "orders", since, until)
    assert [action for _, action in plan] == ["create", "create"]
    assert all(isinstance(req, ReportRequest) for req, _ in plan)
    assert calls(sim, spid, "createReport") == 0
    run_backfill(rt, seller_id, since=since, until=until)
    assert [a for _, a in backfill.dry_run(rt, seller(rt, seller_id), "orders", since, until)] \
        == ["skip", "skip"]


def test_a_long_ingest_refreshes_the_statistics_of_the_tables_it_grew(one_seller, monkeypatch):
    """Where autovacuum will not (the test server runs without it; the choice itself:
    tests/unit/test_report_analyze.py)."""
    from worker.sync import reports

    _, rt, _, seller_id = one_seller()
    (autovacuum,), = table(rt, "SHOW autovacuum")
    if autovacuum == "on":
        with rt.engine.begin() as conn:
            conn.execute(text("ALTER TABLE orders SET (autovacuum_enabled = off)"))
            conn.execute(text("ALTER TABLE order_items SET (autovacuum_enabled = off)"))
    monkeypatch.setattr(reports, "ANALYZE_AFTER", 0)  # as long as any
    sql = ("SELECT relname, last_analyze FROM pg_stat_user_tables "
           "WHERE relname IN ('orders', 'order_items')")
    before = dict(table(rt, sql))
    assert not run_backfill(rt, seller_id, since=datetime.now(UTC) - timedelta(days=20)).failures
    after = dict(table(rt, sql))
    assert set(after) == {"orders", "order_items"}
    assert all(after[t] is not None and (before[t] is None or after[t] > before[t])
               for t in after)
    # Amazon's documents are left out of the statistics (migration 0026), not the rest
    analyzed = table(rt, "SELECT tablename, attname FROM pg_stats WHERE schemaname = 'public' "
                         "AND tablename IN ('orders', 'order_items')")
    assert ("orders", "seller_id") in analyzed and ("order_items", "seller_sku") in analyzed
    assert not {("orders", "raw"), ("order_items", "raw")} & set(analyzed)


def test_connections_plan_every_statement_for_its_own_parameters(one_seller):
    _, rt, _, _ = one_seller()
    with rt.engine.connect() as conn:  # one session: prepared statements are per session
        for _ in range(8):  # past psycopg's default threshold of 5 executions
            conn.execute(text("SELECT count(*) FROM orders WHERE seller_id = :s"), {"s": 1})
        assert conn.execute(text("SELECT count(*) FROM pg_prepared_statements")).scalar() == 0
        assert conn.execute(text("SHOW jit")).scalar() == "off"  # ~200 ms a merge compiled
    # the feed's PL/pgSQL reader keeps custom plans whatever the session says
    assert table(rt, "SELECT proconfig FROM pg_proc WHERE proname = 'spsync_changes'") == [
        (["plan_cache_mode=force_custom_plan"],)]
