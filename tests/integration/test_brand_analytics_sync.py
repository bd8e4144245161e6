"""The Brand Analytics report streams (``search-terms``, ``search-query-performance``)
against real Postgres, Redis and the simulator: whole published weeks, typed into
``search_terms`` / ``search_query_performance``, equal to the simulator's truth after a first
sync and after a new week is published; a finished week is never asked again; a seller Amazon
refuses has the stream disabled once while its other streams sync."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from worker.db import reports as reports_db
from worker.db import state
from worker.db.reports import ReportRequest
from worker.db.sellers import get_seller
from worker.sync import backfill
from worker.sync.brand_analytics import BrandAnalyticsSink
from worker.sync.periods import period_of
from worker.sync.registry import LISTINGS, SEARCH_QUERY_PERFORMANCE, SEARCH_TERMS
from worker.sync.service import run_stream

from .helpers import SimClock, register, table

pytestmark = pytest.mark.integration

TERMS = "GET_BRAND_ANALYTICS_SEARCH_TERMS_REPORT"
SQP = "GET_BRAND_ANALYTICS_SEARCH_QUERY_PERFORMANCE_REPORT"


def _published_weeks(now: datetime, n: int) -> list[date]:
    """The Sundays of the last ``n`` weeks (Sunday-Saturday) that ended 3 days before now."""
    day = (now - timedelta(days=3)).date()
    this_sunday = day - timedelta(days=(day.weekday() + 1) % 7)
    return [this_sunday - timedelta(weeks=k) for k in range(n, 0, -1)]


def _terms(rt: Any, seller_id: int, market: str) -> dict[date, set[tuple[Any, ...]]]:
    out: dict[date, set[tuple[Any, ...]]] = {}
    for r in table(rt, "SELECT start_date, report_period, department_name, search_term, "
                       "click_share_rank, search_frequency_rank, clicked_asin, click_share, "
                       "conversion_share, end_date - start_date FROM search_terms "
                       "WHERE seller_id = :s AND marketplace_id = :m", s=seller_id, m=market):
        assert r[1] == "WEEK" and r[9] == 6
        out.setdefault(r[0], set()).add(tuple(r[2:9]))
    return out


def _terms_truth(sim: Any, spid: str, market: str, week: date) -> set[tuple[Any, ...]]:
    doc = sim.client.truth_brand_analytics("search-terms", spid, market, "WEEK",
                                           week.isoformat())
    return {(e["departmentName"], e["searchTerm"], e["clickShareRank"],
             e["searchFrequencyRank"], e["clickedAsin"], Decimal(str(e["clickShare"])),
             Decimal(str(e["conversionShare"]))) for e in doc["dataByDepartmentAndSearchTerm"]}


def _sqp(rt: Any, seller_id: int, market: str) -> dict[date, set[tuple[Any, ...]]]:
    out: dict[date, set[tuple[Any, ...]]] = {}
    for r in table(rt, "SELECT start_date, asin, search_query, search_query_volume, "
                       "asin_impression_count, asin_click_share, asin_cart_add_count, "
                       "asin_purchase_count, total_purchase_count, asin_median_purchase_price, "
                       "asin_median_purchase_price_currency, total_two_day_shipping_click_count "
                       "FROM search_query_performance WHERE seller_id = :s AND marketplace_id = :m",
                   s=seller_id, m=market):
        out.setdefault(r[0], set()).add(tuple(r[1:]))
    return out


def _sqp_truth(sim: Any, spid: str, market: str, week: date) -> set[tuple[Any, ...]]:
    doc = sim.client.truth_brand_analytics("search-query-performance", spid, market, "WEEK",
                                           week.isoformat())
    return {(e["asin"], e["searchQueryData"]["searchQuery"],
             e["searchQueryData"]["searchQueryVolume"],
             e["impressionData"]["asinImpressionCount"],
             Decimal(str(e["clickData"]["asinClickShare"])),
             e["cartAddData"]["asinCartAddCount"], e["purchaseData"]["asinPurchaseCount"],
             e["purchaseData"]["totalPurchaseCount"],
             Decimal(str(e["purchaseData"]["asinMedianPurchasePrice"]["amount"])),
             e["purchaseData"]["asinMedianPurchasePrice"]["currencyCode"],
             e["clickData"]["totalTwoDayShippingClickCount"]) for e in doc["dataByAsin"]}


def _reports(rt: Any, seller_id: int, report_type: str) -> list[tuple[Any, ...]]:
    return table(rt, "SELECT data_start_time, data_end_time, report_options, ingest_status "
                     "FROM reports WHERE seller_id = :s AND report_type = :t ORDER BY id",
                 s=seller_id, t=report_type)


def test_search_terms_reads_whole_published_weeks_and_then_the_next(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=81)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = SEARCH_TERMS.stream(market)
    clock = SimClock(sim)

    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    weeks = _published_weeks(clock.now(), 4)
    stored = _terms(rt, seller_id, market)
    assert sorted(stored) == weeks
    for week in weeks:
        assert stored[week] == _terms_truth(sim, spid, market, week), week
        assert len(stored[week]) % 3 == 0 and stored[week]  # top-3 ASINs per term
    asked = _reports(rt, seller_id, TERMS)
    assert [(s.date(), e.date(), o) for s, e, o, _ in asked] == [
        (w, w + timedelta(days=6), {"reportPeriod": "WEEK"}) for w in weeks]
    assert {a[3] for a in asked} == {"ingested"}

    # The same week again: nothing asked.
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    assert len(_reports(rt, seller_id, TERMS)) == 4

    clock.advance(7 * 86400)  # a week on: one more week published, read next run
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    newer = _published_weeks(clock.now(), 1)[0]
    assert newer == weeks[-1] + timedelta(weeks=1)
    stored = _terms(rt, seller_id, market)
    assert sorted(stored) == [*weeks, newer]
    assert stored[newer] == _terms_truth(sim, spid, market, newer)
    assert len(_reports(rt, seller_id, TERMS)) == 5
    with rt.engine.begin() as conn:
        cursor = state.load_checkpoint(conn, seller_id, stream).cursor
    assert cursor is not None and cursor.date() == newer + timedelta(days=7)


def test_search_query_performance_asks_per_batch_of_listed_asins(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=300, time_scale=1000, seed=82,
                    history_days=35, catalog_size=30)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = SEARCH_QUERY_PERFORMANCE.stream(market)
    clock = SimClock(sim)

    # No listings mirrored yet: nothing to ask, and the cursor stays.
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    assert _reports(rt, seller_id, SQP) == []
    assert asyncio.run(run_stream(rt, seller_id, LISTINGS.stream(market))).status == "succeeded"
    listed = sorted({a for (a,) in table(
        rt, "SELECT DISTINCT asin FROM listings_items WHERE seller_id = :s AND "
            "marketplace_id = :m AND asin IS NOT NULL", s=seller_id, m=market)})
    assert len(listed) > 18  # more than one batch

    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    weeks = _published_weeks(clock.now(), 4)
    asked = _reports(rt, seller_id, SQP)
    batches = len(asked) // 4
    assert len(asked) == 4 * batches and batches == -(-len(listed) // 18)
    for _, _, options, status in asked:
        assert options["reportPeriod"] == "WEEK" and status == "ingested"
        assert len(options["asin"]) <= 200
    assert sorted({a for _, _, o, _ in asked for a in o["asin"].split()}) == listed
    stored = _sqp(rt, seller_id, market)
    assert sorted(stored) == weeks
    for week in weeks:
        assert stored[week] == _sqp_truth(sim, spid, market, week), week
    assert sum(r[6] for w in weeks for r in stored[w]) > 0  # purchases from the orders

    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    assert len(_reports(rt, seller_id, SQP)) == len(asked)  # a finished week: nothing asked


def _creates(sim: Any) -> int:
    return sum(b["calls"] for b in sim.client.stats()["buckets"]
               if b["operation"] == "createReport")


def _disabled(rt: Any, seller_id: int) -> dict[str, str]:
    return dict(table(rt, "SELECT stream, disabled_reason FROM sync_state WHERE seller_id = :s "
                          "AND disabled_reason IS NOT NULL", s=seller_id))


def _due(rt: Any, seller_id: int) -> set[str]:
    with rt.engine.begin() as conn:
        claimed = state.claim_due(conn, datetime.now().astimezone() + timedelta(days=2),
                                  limit=100, hold=timedelta(seconds=1), seller_id=seller_id)
    return {stream for _, stream in claimed}


@pytest.mark.parametrize("refusal", ["refused", "refused-fatal"])
def test_a_seller_without_brand_registry_is_refused_once(start_sim, runtime_for, refusal):
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=83)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = SEARCH_TERMS.stream(market)
    sim.client.brand_registry(spid, refusal)

    assert asyncio.run(run_stream(rt, seller_id, stream)).status == "failed"
    assert asyncio.run(run_stream(rt, seller_id, LISTINGS.stream(market))).status == "succeeded"
    disabled = _disabled(rt, seller_id)
    assert list(disabled) == [stream]
    assert ("403" in disabled[stream]) if refusal == "refused" else \
        ("Brand Registry" in disabled[stream])
    due = _due(rt, seller_id)
    assert stream not in due and LISTINGS.stream(market) in due  # never claimed again
    fatal = _reports(rt, seller_id, TERMS)
    # the 403 leaves no report; the FATAL one report, asked once
    assert len(fatal) == (0 if refusal == "refused" else 1)
    runs = table(rt, "SELECT status FROM sync_runs WHERE seller_id = :s AND stream = :t",
                 s=seller_id, t=stream)
    assert runs == [("failed",)]  # one run; the dispatcher never runs it again
    # one report asked: the 403 is sent once more by the client with a fresh access token
    # (worker/sync/service.py refused), never again by a later run
    assert _creates(sim) == (2 if refusal == "refused" else 1)


def test_a_fatal_report_for_another_reason_fails_the_run_and_is_retried(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=84)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = SEARCH_TERMS.stream(market)
    sim.client.fault("createReport", "report_fatal", count=1, seller_id=spid)

    assert asyncio.run(run_stream(rt, seller_id, stream)).status == "failed"
    assert _disabled(rt, seller_id) == {}
    assert asyncio.run(run_stream(rt, seller_id, stream)).status == "succeeded"
    statuses = [r[3] for r in _reports(rt, seller_id, TERMS)]
    assert statuses == ["failed", *["ingested"] * 4]  # the failed week asked again


def test_backfill_search_terms_fills_the_published_weeks_since(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=85)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    now = datetime.now().astimezone()
    weeks = _published_weeks(now, 6)
    since = datetime(weeks[0].year, weeks[0].month, weeks[0].day).astimezone() - \
        timedelta(days=2)  # mid-week: that week is not whole, so not asked
    with rt.engine.begin() as conn:
        seller = get_seller(conn, seller_id, rt.keyring)
    progress = asyncio.run(backfill.backfill_seller(rt, seller, "search-terms", since, now))
    assert progress.failures == [] and progress.done == len(weeks) == 6
    stored = _terms(rt, seller_id, market)
    assert sorted(stored) == weeks
    for week in (weeks[0], weeks[-1]):
        assert stored[week] == _terms_truth(sim, spid, market, week)
    # the incremental stream's first run reads its last 4 weeks into the same rows
    assert asyncio.run(run_stream(rt, seller_id, SEARCH_TERMS.stream(market))).status == \
        "succeeded"
    assert sorted(_terms(rt, seller_id, market)) == weeks


def test_a_run_that_let_go_while_amazon_works_resumes_the_same_reports(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=20, time_scale=1000, seed=86,
                    report_delay_seconds=600_000)  # 10 minutes of real time at this scale
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05,
                     report_hold_seconds=0.2)
    (_, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = SEARCH_TERMS.stream(market)
    clock = SimClock(sim)
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "deferred"
    (pending,) = _reports(rt, seller_id, TERMS)
    assert pending[3] == "pending"
    window = table(rt, "SELECT window_start, window_end FROM sync_state WHERE seller_id = :s "
                   "AND stream = :t", s=seller_id, t=stream)
    assert window[0][0] == pending[0]  # the period waits for its report

    outcomes = []
    for _ in range(8):  # each week's report: let go of, then resumed once Amazon is done
        sim.client.advance_clock(700)
        outcomes.append(asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status)
        if outcomes[-1] == "succeeded":
            break
    assert outcomes[-1] == "succeeded" and set(outcomes) <= {"deferred", "succeeded"}
    asked = _reports(rt, seller_id, TERMS)
    assert {a[3] for a in asked} == {"ingested"}
    assert asked[0][:3] == pending[:3] and len(asked) == 4 == _creates(sim)


def test_an_entry_that_does_not_map_is_kept_with_its_reason(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=1, time_scale=1000, seed=87)
    rt = runtime_for(sim)
    (_, seller_id), = register(rt, sim).items()
    week = period_of("WEEK", date(2021, 6, 6))
    good = {"departmentName": "Beauty", "searchTerm": "lipstick", "searchFrequencyRank": 3,
            "clickedAsin": "B123456789", "clickShareRank": 1, "clickShare": 0.25,
            "conversionShare": 0.5}
    with rt.engine.begin() as conn:
        report = reports_db.record_request(conn, seller_id, ReportRequest(
            TERMS, ("ATVPDKIKX0DER",), week.start, week.end, (("reportPeriod", "WEEK"),)), "R1")
        sink = BrandAnalyticsSink(report, batch=2)
        sink.accept_entry(1, good)
        sink.accept_entry(2, {**good, "clickShareRank": 2, "clickedAsin": "nope"})
        sink.accept_entry(3, {**good, "clickShareRank": 3, "clickedAsin": "B987654321"})
        counts = sink.flush(conn, final=True)
    assert (counts.read, counts.written, counts.rejected) == (3, 2, 1)
    assert table(rt, "SELECT line, error FROM report_rows WHERE seller_id = :s", s=seller_id) \
        == [(2, "unexpected payload: search term 'lipstick'.clickedAsin is not an ASIN")]
    assert table(rt, "SELECT start_date, end_date, click_share_rank, clicked_asin FROM "
                     "search_terms WHERE seller_id = :s ORDER BY 3", s=seller_id) == [
        (date(2021, 6, 6), date(2021, 6, 12), 1, "B123456789"),
        (date(2021, 6, 6), date(2021, 6, 12), 3, "B987654321")]


def test_a_week_amazon_publishes_late_is_asked_again_without_failing(start_sim, runtime_for):
    """The stream expects a week 3 days after it ends; when Amazon is later ("The requested
    data is unavailable"), the run still succeeds with the weeks before it, and the next run
    asks for that week again."""
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=85)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    stream = SEARCH_TERMS.stream(market)
    clock = SimClock(sim)
    sim_now = datetime.fromtimestamp(sim.client.advance_clock(0), UTC)
    # A day after the next week ends: the simulator publishes it 2 days later (3 after its
    # end). _published_weeks(now + 3 days) is the week that ended by now: one more week on.
    end = datetime.combine(_published_weeks(sim_now + timedelta(days=3), 1)[0]
                           + timedelta(weeks=2), datetime.min.time(), UTC)
    clock.advance((end + timedelta(days=1) - sim_now).total_seconds())
    ahead = timedelta(days=2, hours=1)  # the stream believes the week is published

    def early() -> datetime:
        return clock.now() + ahead

    assert asyncio.run(run_stream(rt, seller_id, stream, now=early)).status == "succeeded"
    late_week = (end - timedelta(weeks=1)).date()
    asked = _reports(rt, seller_id, TERMS)
    assert [r[3] for r in asked] == ["ingested"] * 3 + ["failed"]
    assert asked[-1][0].date() == late_week
    assert sorted(_terms(rt, seller_id, market)) == [late_week - timedelta(weeks=k)
                                                     for k in (3, 2, 1)]
    with rt.engine.begin() as conn:
        cursor = state.load_checkpoint(conn, seller_id, stream).cursor
    assert cursor is not None and cursor.date() == late_week

    clock.advance(ahead.total_seconds())  # Amazon catches up: the week is asked again, read
    assert asyncio.run(run_stream(rt, seller_id, stream, now=clock.now)).status == "succeeded"
    stored = _terms(rt, seller_id, market)
    assert late_week in stored
    assert stored[late_week] == _terms_truth(sim, spid, market, late_week)
    assert [r[3] for r in _reports(rt, seller_id, TERMS)][-1] == "ingested"


def test_backfill_search_query_performance_asks_per_batch_of_listed_asins(start_sim,
                                                                          runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=200, time_scale=1000, seed=86,
                    history_days=35, catalog_size=25)
    rt = runtime_for(sim, report_poll_seconds=0.02, report_poll_max_seconds=0.05)
    (spid, seller_id), = register(rt, sim).items()
    market = sim.world()["sellers"][0]["marketplace_ids"][0]
    now = datetime.now(UTC)
    weeks = _published_weeks(now, 3)
    since = datetime.combine(weeks[0], datetime.min.time(), UTC)
    with rt.engine.begin() as conn:
        seller = get_seller(conn, seller_id, rt.keyring)
    with pytest.raises(backfill.BackfillError, match="has none mirrored yet"):
        asyncio.run(backfill.backfill_seller(rt, seller, "search-query-performance", since,
                                             now))
    assert _reports(rt, seller_id, SQP) == []  # nothing asked

    assert asyncio.run(run_stream(rt, seller_id, LISTINGS.stream(market))).status == "succeeded"
    listed = {a for (a,) in table(
        rt, "SELECT DISTINCT asin FROM listings_items WHERE seller_id = :s AND "
            "marketplace_id = :m AND asin IS NOT NULL", s=seller_id, m=market)}
    batches = -(-len(listed) // 18)
    progress = asyncio.run(backfill.backfill_seller(rt, seller, "search-query-performance",
                                                    since, now))
    assert progress.failures == [] and progress.done == len(weeks) * batches
    asked = _reports(rt, seller_id, SQP)
    assert {a for _, _, o, _ in asked for a in o["asin"].split()} == listed
    stored = _sqp(rt, seller_id, market)
    assert sorted(stored) == weeks
    for week in weeks:
        assert stored[week] == _sqp_truth(sim, spid, market, week), week
    again = asyncio.run(backfill.backfill_seller(rt, seller, "search-query-performance",
                                                 since, now))
    assert again.skipped == again.done == len(asked)  # nothing asked twice
