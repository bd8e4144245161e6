"""The stream registry: one declaration per kind of stream, and the lookups everyone uses.

Adding a stream is one :class:`~worker.sync.declaration.StreamKind` here (its endpoint's
query and mapper live in its own module, e.g. :mod:`worker.sync.listings`), a migration
for its table, its simulator endpoint and its tests; ``docs/adding-a-stream.md`` walks
through it. Which streams a seller has (``migrate``, onboarding), how each runs and how
often (:mod:`worker.sync.catalog`), what ``status`` counts and which quota bucket paces it,
its metrics label, notification refreshes, ``backfill`` and the table of streams in
``docs/schema.md`` all read these declarations; none of them names a stream.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from functools import partial

from worker.config import STREAM_KNOBS, ConfigError, ConfiguredReport, report_streams
from worker.db import catalog_items as catalog_store
from worker.db import prices as price_store
from worker.sync import (
    brand_analytics,
    catalog_items,
    fba_reports,
    finances,
    finances_v0,
    inbound,
    inventory,
    listings,
    order_metrics,
    orders,
    prices,
    report_types,
    returns,
    settlements,
)
from worker.sync.declaration import (
    ApiBackfill,
    Backfill,
    Children,
    Refresh,
    ReportStream,
    StreamKind,
    Tuning,
    UnknownStreamError,
)
from worker.sync.endpoint import Endpoint, Lookup, each
from worker.sync.paging import LoneTokenPaginator, SinglePage, TokenPaginator
from worker.sync.windows import Bounds

# How far back Amazon has report data: "Order reports only support orders that are less
# than two years old" and, for the JP, AU and SG marketplaces, "orders from 2016 onward"
# (https://developer-docs.amazon.com/sp-api/docs/report-type-values-order). Sales and
# traffic: "The start date must be no more than two years ago" (the same Business Reports
# data in Data Kiosk, https://github.com/amzn/selling-partner-api-models/blob/main/schemas/
# data-kiosk/analytics_salesAndTraffic_2024_04_24.graphql).
TWO_YEARS = timedelta(days=730)
JP_AU_SG = frozenset({"A1VC38T7YXB528", "A39IBJ37TRP1C6", "A19VAU5U5O7RUS"})


def tokens(param: str, *at: str) -> partial[TokenPaginator]:
    """Token paging: the page's token at ``at``, sent back as ``param``."""
    return partial(TokenPaginator, param, at)


ORDERS = StreamKind(
    name="orders", table="orders", key=("seller_id", "amazon_order_id"),
    urgent=True,  # the order path: ahead of the other kinds' runs in the queue
    children=Children("order_items", "items"),
    endpoint=Endpoint(
        operation="searchOrders", paginator=tokens("paginationToken", "pagination", "nextToken"),
        records=("orders",), query=orders.search_query,
        bounds=Bounds("lastUpdatedAfter", "lastUpdatedBefore"),
        rows=orders.search_rows, write=orders.write,
        lookup=Lookup("getOrder", orders.get_order, at=("order",))),
    by_api_version={"v0": Endpoint(  # deprecated; no single-order read with items
        operation="getOrders", paginator=tokens("NextToken", "payload", "NextToken"),
        records=("payload", "Orders"), query=orders.v0_query,
        bounds=Bounds("LastUpdatedAfter", "LastUpdatedBefore"),
        rows=orders.v0_rows, write=orders.write)},
    tuning=Tuning(
        interval=timedelta(minutes=5), overlap=timedelta(minutes=1), page_size=100,
        lag=timedelta(minutes=2),  # Amazon: LastUpdatedBefore at least 2 minutes ago
        max_span=timedelta(days=7), initial=timedelta(days=30), max_page_size=100,
        tunable=STREAM_KNOBS[:-1]),  # every knob but the report period
    backfill=Backfill(
        report_types.ORDERS_BY_UPDATE, window=timedelta(days=30),  # what the flat file takes
        per_marketplace=False, history=TWO_YEARS, older_markets=JP_AU_SG,
        older_start=datetime(2016, 1, 1, tzinfo=UTC), hands_over=True),
)

INVENTORY = StreamKind(
    name="inventory", table="inventory_summaries",
    urgent=True,  # the order path: ahead of the other kinds' runs in the queue
    key=("seller_id", "marketplace_id", "seller_sku"), per_marketplace=True,
    endpoint=Endpoint(
        operation="getInventorySummaries", paginator=tokens("nextToken", "pagination", "nextToken"),
        records=("payload", "inventorySummaries"), query=inventory.query,
        # startDateTime has no end; Amazon takes at most 18 months back
        bounds=Bounds("startDateTime", lookback=inventory.MAX_LOOKBACK),
        rows=each(inventory.map_summary), write=inventory.write,
        lookup=Lookup("getInventorySummaries", inventory.one_sku,
                      at=("payload", "inventorySummaries"), one=False)),
    tuning=Tuning(interval=timedelta(minutes=15), overlap=timedelta(minutes=5),
                  page_size=50),  # fixed by Amazon for this operation
    backfill=Backfill(report_types.FBA_MYI),
)

LISTINGS = StreamKind(
    name="listings", table="listings_items", key=("seller_id", "marketplace_id", "seller_sku"),
    urgent=True,  # the order path: ahead of the other kinds' runs in the queue
    per_marketplace=True,
    endpoint=Endpoint(
        operation="searchListingsItems", paginator=tokens("pageToken", "pagination", "nextToken"),
        records=("items",), query=listings.query, path=listings.path,
        bounds=Bounds("lastUpdatedAfter", "lastUpdatedBefore", lookback=listings.FULL_LISTING),
        rows=each(listings.map_item), write=listings.write, check=listings.check,
        lookup=Lookup("getListingsItem", listings.one_sku)),
    tuning=Tuning(interval=timedelta(minutes=15), overlap=timedelta(minutes=5),
                  page_size=listings.PAGE_SIZE,
                  initial=listings.FULL_LISTING),  # sorted and keyset-paged: one window
    backfill=Backfill(report_types.LISTINGS_ALL),
)

# Money. Amazon keeps changing transactions for weeks (deferred -> released, late fees) and
# a payout group until it closes: every run re-reads the last ``overlap`` (the look-back).
# Both operations want their window's end more than two minutes before now and return
# nothing for windows longer than 180 days.
FINANCES = StreamKind(
    name="finances", table="financial_transactions", key=("seller_id", "transaction_id"),
    children=Children("financial_transaction_breakdowns", "breakdowns"),
    endpoint=Endpoint(
        operation="listTransactions", paginator=tokens("nextToken", "payload", "nextToken"),
        records=("payload", "transactions"), query=finances.transactions_query,
        bounds=Bounds("postedAfter", "postedBefore"),
        rows=finances.transaction_rows, write=finances.write_transactions),
    # Sellers on whom Amazon refuses listTransactions (403) move to v0 by themselves.
    by_api_version={"v0": Endpoint(
        operation="listFinancialEvents", paginator=tokens("NextToken", "payload", "NextToken"),
        records=finances_v0.events, query=finances_v0.events_query,
        bounds=Bounds("PostedAfter", "PostedBefore"),
        rows=finances_v0.event_rows, write=finances.write_transactions)},
    version_setting="finances_api_version", fallback="v0",
    # Windows as long as Amazon answers (180 days): each window after a run's first starts
    # ``overlap`` before the previous one ended, so short windows would re-read most pages.
    tuning=Tuning(interval=timedelta(hours=1), overlap=timedelta(days=30),
                  lag=timedelta(minutes=3), max_span=timedelta(days=179),
                  initial=timedelta(days=30), page_size=0,  # Amazon sizes its pages
                  tunable=("interval_seconds", "overlap_seconds", "lag_seconds",
                           "initial_days")),
    api_backfill=ApiBackfill(window=timedelta(days=30)),  # no history limit in the model
)

PAYOUTS = StreamKind(
    name="payouts", table="financial_event_groups",
    key=("seller_id", "financial_event_group_id"),
    endpoint=Endpoint(
        operation="listFinancialEventGroups",
        paginator=tokens("NextToken", "payload", "NextToken"),
        records=("payload", "FinancialEventGroupList"), query=finances.groups_query,
        bounds=Bounds("FinancialEventGroupStartedAfter", "FinancialEventGroupStartedBefore"),
        rows=finances.group_rows, write=finances.write_groups),
    tuning=Tuning(interval=timedelta(hours=6), overlap=timedelta(days=60),
                  lag=timedelta(minutes=3), max_span=timedelta(days=179),
                  initial=timedelta(days=90), page_size=100, max_page_size=100,
                  tunable=("interval_seconds", "overlap_seconds", "lag_seconds")),
    api_backfill=ApiBackfill(),
)

# Settlement reports: Amazon makes one per settlement period itself; the stream lists them
# (getReports, created since the cursor minus a week) and downloads each new one once.
SETTLEMENTS = StreamKind(
    name="settlements", table="settlements", key=("seller_id", "settlement_id"),
    children=Children("settlement_lines", "lines"),
    endpoint=Endpoint(
        operation="getReports", paginator=partial(LoneTokenPaginator, "nextToken",
                                                  ("nextToken",)),
        records=("reports",), query=settlements.query,
        bounds=Bounds("createdSince"),  # up to now: a report made during the run is kept
        rows=settlements.found_reports, write=settlements.write),
    tuning=Tuning(interval=timedelta(hours=6), overlap=timedelta(days=7), page_size=100,
                  max_page_size=100, max_span=timedelta(days=90),
                  initial=timedelta(days=89),  # getReports looks back 90 days at most
                  tunable=("interval_seconds", "overlap_seconds")),
    # "Reports are retained for a maximum of 90 days" (getReports createdSince, reports model)
    api_backfill=ApiBackfill(history=timedelta(days=90)),
)

# Amazon's catalog entry of each ASIN the seller lists or sold, read again after a week.
CATALOG = StreamKind(
    name="catalog", table="catalog_items", key=("seller_id", "marketplace_id", "asin"),
    per_marketplace=True,
    refresh=Refresh(operation="searchCatalogItems", due=catalog_store.due_asins,
                    query=catalog_items.query, records=("items",), rows=catalog_items.rows,
                    write=catalog_items.write, batch=catalog_items.BATCH,
                    after=("listings", "orders")),
    tuning=Tuning(interval=timedelta(hours=6), overlap=timedelta(days=7),  # the maximum age
                  page_size=0),
)

# The competitive summary of each ASIN the seller lists, kept as a history: a snapshot an
# hour at most (0.033 calls/s of 20 ASINs: about 2,400 ASINs an hour per seller).
PRICES = StreamKind(
    name="prices", table="price_snapshots", key=("seller_id", "marketplace_id", "asin",
                                                 "taken_at"),
    per_marketplace=True,
    refresh=Refresh(operation="getCompetitiveSummary", due=price_store.due_asins,
                    query=prices.query, body=prices.body, records=("responses",),
                    rows=prices.rows, write=prices.write, batch=prices.BATCH,
                    after=("listings",)),
    tuning=Tuning(interval=timedelta(hours=1), overlap=timedelta(hours=1),  # the maximum age
                  page_size=0),
)

# FBA inbound plans, their shipments and items (Fulfillment Inbound 2024-03-20). The list has
# no date filter: newest first by last update, a window ends at the first plan older than its
# start (worker/sync/inbound.py). Each listed plan costs getInboundPlan, then getShipment and
# listShipmentItems per shipment (2 calls/s each, bursts 6, 6 and 30 in the model).
INBOUND = StreamKind(
    name="inbound", table="inbound_plans", key=("seller_id", "inbound_plan_id"),
    children=Children("inbound_shipments", "shipments"),
    endpoint=Endpoint(
        operation="listInboundPlans",
        paginator=tokens("paginationToken", "pagination", "nextToken"),
        records=("inboundPlans",), query=inbound.query, bounds=None,
        newest_first=inbound.NEWEST_FIRST, rows=inbound.plan_rows, write=inbound.write),
    tuning=Tuning(interval=timedelta(minutes=30), overlap=timedelta(minutes=10),
                  page_size=inbound.PAGE_SIZE, max_page_size=inbound.PAGE_SIZE),
    # Every plan Amazon keeps is listed (no date filter): from --since, newest first.
    api_backfill=ApiBackfill(),
)


def report_tuning(interval: timedelta, lookback: timedelta, initial: timedelta,
                  tunable: tuple[str, ...] = ("interval_seconds", "overlap_seconds")) -> Tuning:
    """What a report kind runs by: a report each ``interval``, from the cursor minus
    ``lookback`` (Amazon back-dates these rows), in windows of at most 30 days (what the
    report types take), ending two minutes before the run; a first run reaches ``initial``
    back."""
    return Tuning(interval=interval, overlap=lookback, page_size=0, lag=timedelta(minutes=2),
                  max_span=timedelta(days=30), initial=initial, tunable=tunable)


# Sales and traffic (Business Reports): one report a UTC day and marketplace, each run
# re-asking the last 3 days. Amazon revises recent days: orders placed on a day are priced,
# cancelled and refunded over the following days, and the report counts them on the day
# ordered, so a day's figures settle a few days later (the simulator revises them for up to
# 3 days, see simulator/sales_traffic.py); older changes are left to a backfill. Each day is
# its own report because salesAndTrafficByAsin adds up the whole requested range.
SALES_TRAFFIC_OPTIONS = (("asinGranularity", "CHILD"), ("dateGranularity", "DAY"))
SALES_TRAFFIC = StreamKind(
    name="sales-traffic", table="sales_traffic_by_date",
    key=("seller_id", "marketplace_id", "date"), per_marketplace=True,
    children=Children("sales_traffic_by_asin", "asins"),
    report=ReportStream(report_types.SALES_AND_TRAFFIC, options=SALES_TRAFFIC_OPTIONS,
                        daily=True),
    tuning=report_tuning(timedelta(days=1), timedelta(days=3),
                         timedelta(days=7)),  # a longer history: backfill
    # 30-day reports: their days land in sales_traffic_by_date, their per-ASIN totals (of
    # 30 days, no day) stay in report_rows.
    backfill=Backfill(
        report_types.SALES_AND_TRAFFIC, window=timedelta(days=30), history=TWO_YEARS,
        options=SALES_TRAFFIC_OPTIONS),
)

# Order metrics (Sales API): a marketplace's orders, units and sales per UTC day, each run
# re-reading the last 3 days (orders are priced, cancelled and completed after the day they
# were placed on); hourly, so today's figures stay current. One answer, no pages.
ORDER_METRICS = StreamKind(
    name="order-metrics", table="order_metrics",
    key=("seller_id", "marketplace_id", "granularity", "interval_start"), per_marketplace=True,
    endpoint=Endpoint(
        operation="getOrderMetrics", paginator=lambda token: SinglePage(),
        records=("payload",), query=order_metrics.query, bounds=None,
        window_query=order_metrics.interval,
        rows=each(order_metrics.map_metric), write=order_metrics.write),
    tuning=Tuning(interval=timedelta(hours=1), overlap=timedelta(days=3), page_size=0,
                  lag=timedelta(minutes=2), max_span=timedelta(days=30),
                  initial=timedelta(days=30),  # Day granularity reaches two years back
                  tunable=("interval_seconds", "overlap_seconds", "initial_days")),
    # "the interval specified must be less or equal to 2 years from now" for Day granularity
    # (getOrderMetrics, salesV1 model): a month
    # a call, one stream a marketplace
    api_backfill=ApiBackfill(history=TWO_YEARS, window=timedelta(days=30)),
)

# Returns and reimbursements: typed report streams (worker/sync/returns.py), one report a
# marketplace each day (FBA reports are "daily" reports Amazon generates at most once every
# four hours, https://developer-docs.amazon.com/sp-api/docs/fba-sales-reports-attributes),
# each asking from the cursor minus the look-back. Amazon records these lines days to weeks
# after the event they are dated by, so a later report holds lines dated inside a window an
# earlier report already covered: the look-back re-reads them. A look-back plus the day
# between runs stays under ``max_span`` (30 days), so a run asks for one report, not two.
def _daily(lookback: timedelta) -> Tuning:
    return report_tuning(timedelta(days=1), lookback, lookback)


# No history limit is stated for these report types; the order reports' two years assumed.
RETURNS = StreamKind(
    name="returns", table="fba_returns",
    key=("seller_id", "marketplace_id", "order_id", "sku", "return_date",
         "license_plate_number"),
    per_marketplace=True, report=ReportStream(returns.FBA_RETURNS),
    # return-date is when the fulfillment center processed the unit, and Amazon adds lines
    # with an earlier return-date to later reports: buyers have 30 days to send an item
    # back, and back-dated lines are seen up to about five weeks late (Openbridge re-reads
    # 7 and 35 days back, https://docs.openbridge.com/en/articles/8135664-fba-customer-
    # returns-report). 28 days catches the usual delay (days to two weeks) while a run stays
    # one report; older stragglers need `backfill --stream returns`.
    tuning=_daily(timedelta(days=28)),
    backfill=Backfill(returns.FBA_RETURNS, window=timedelta(days=30), history=TWO_YEARS),
)

RETURNS_MFN = StreamKind(
    name="returns-mfn", table="mfn_returns",
    key=("seller_id", "marketplace_id", "order_id", "asin", "merchant_sku",
         "return_request_date"),
    per_marketplace=True, report=ReportStream(returns.MFN_RETURNS),
    # Dated by the buyer's return request, and the request's line keeps changing (status,
    # delivery, refund) until the item is back and refunded, which the buyer has about 30
    # days to do: 28 days re-reads a request over the weeks it is still open, in one report.
    tuning=_daily(timedelta(days=28)),
    backfill=Backfill(returns.MFN_RETURNS, window=timedelta(days=30), history=TWO_YEARS),
)

REIMBURSEMENTS = StreamKind(
    name="reimbursements", table="fba_reimbursements",
    key=("seller_id", "marketplace_id", "reimbursement_id", "sku", "fnsku"),
    per_marketplace=True, report=ReportStream(returns.REIMBURSEMENTS),
    # Dated by approval-date. Amazon states no delay for this report; its data is refreshed
    # daily and a line can reach it some days after its approval date (a reversal is a line
    # of its own, dated when it is approved). 14 days allows a week's delay twice over, at
    # half the download of the returns' look-back.
    tuning=_daily(timedelta(days=14)),
    backfill=Backfill(returns.REIMBURSEMENTS, window=timedelta(days=30), history=TWO_YEARS),
)


# FBA fees and the inventory ledger: a report a marketplace each run, typed into their tables
# (worker/sync/fba_reports.py). Each run asks from its cursor minus the look-back (overlap).
#
# Fee estimates are a snapshot of every SKU with FBA offers that Amazon refreshes at least
# every 72 hours; the window only satisfies the report's dates (its start three days back),
# the rows are today's estimates. Once a day is plenty.
FEE_ESTIMATES = StreamKind(
    name="fee-estimates", table="fba_fee_estimates", key=fba_reports.FEE_KEY,
    per_marketplace=True, report=ReportStream(fba_reports.FEE_ESTIMATES),
    tuning=report_tuning(timedelta(hours=24), timedelta(days=3), timedelta(days=3)),
    backfill=Backfill(fba_reports.FEE_ESTIMATES, window=timedelta(days=30),
                      history=timedelta(days=30)),  # a snapshot: no history to speak of
)

# Storage fees are charged for a past month: a month's fee appears in the report only in the
# first half of the next month (around the 7th-15th). A daily run looking back 20 days still
# overlaps the month just charged on the 15th, so it picks the month's rows up when they
# appear; a later correction of that month within the look-back replaces them.
STORAGE_FEES = StreamKind(
    name="storage-fees", table="fba_storage_fees", key=fba_reports.STORAGE_KEY,
    per_marketplace=True, report=ReportStream(fba_reports.STORAGE_FEES),
    tuning=report_tuning(timedelta(hours=24), timedelta(days=20),
                         timedelta(days=45)),  # last month whole, whatever the day
    backfill=Backfill(fba_reports.STORAGE_FEES, window=timedelta(days=30), history=TWO_YEARS),
)

# The ledger is back-dated: Amazon records returns, adjustments and reconciliations days after
# the event's date. Every six hours, looking back 14 days: a line recorded up to two weeks
# after its date is still read; re-read days rewrite nothing (same lines, same occurrences).
LEDGER = StreamKind(
    name="ledger", table="inventory_ledger", key=fba_reports.LEDGER_KEY,
    per_marketplace=True, report=ReportStream(fba_reports.LEDGER_DETAIL),
    tuning=report_tuning(timedelta(hours=6), timedelta(days=14), timedelta(days=30)),
    backfill=Backfill(fba_reports.LEDGER_DETAIL, window=timedelta(days=30),
                      history=timedelta(days=540)),  # the ledger keeps 18 months
)


# The ledger's daily summary per FNSKU, disposition and fulfillment center: a back-dated event
# changes its day's row and every later day's balances, so the same 14-day look-back; the
# summary of a day settles once that day's events are recorded, twice a day is enough.
LEDGER_SUMMARY = StreamKind(
    name="ledger-summary", table="inventory_ledger_summary", key=fba_reports.SUMMARY_KEY,
    per_marketplace=True, report=ReportStream(fba_reports.LEDGER_SUMMARY,
                                              options=fba_reports.SUMMARY_OPTIONS),
    tuning=report_tuning(timedelta(hours=12), timedelta(days=14), timedelta(days=30)),
    backfill=Backfill(fba_reports.LEDGER_SUMMARY, window=timedelta(days=30),
                      options=fba_reports.SUMMARY_OPTIONS, history=timedelta(days=540)),
)


# Brand Analytics (Brand Registry sellers with the Brand Analytics role): whole reporting
# periods, WEEK by default (SPSYNC_<KIND>_PERIOD=WEEK|MONTH|QUARTER), each asked once it has
# been published: Amazon's weekly Brand Analytics data arrives up to 72 hours after the week
# closes ("if the close period is Sat, the first availability would be Wed",
# https://docs.openbridge.com/en/articles/6525724-amazon-vendor-central-retail-analytics; a
# late week stayed FATAL until the Friday, github.com/amzn/selling-partner-api-models/issues/
# 5351). A period asked too early ends FATAL ("The requested data is unavailable", issue 2444
# of amzn/selling-partner-api-docs): the run ends there, as a success that read nothing, and
# the next day's run asks again from the same cursor (a late week is no failure).
# A first run reads the last 4 periods (a month of weeks: trends need a few, each period is
# one report per batch at createReport's 1 a minute); older ones stay unread. Daily runs ask
# nothing until the next period is due.
#
# Without Brand Registry or the role, Amazon answers createReport with 403 Unauthorized
# ("Access to the resource is forbidden": amzn/selling-partner-api-docs issue 1626,
# amzn/selling-partner-api-models issues 2546 and 4652), which disables the stream once
# (worker/sync/service.py). No FATAL text for it is documented; ``refusal`` names the words
# such a report would carry, and never Amazon's generic "A client error occurred" (bad
# parameters) or "The requested data is unavailable" (not yet published), which are retried.
BRAND_ANALYTICS_PUBLISHED = timedelta(days=3)
BRAND_ANALYTICS_REFUSAL = (r"brand registry|brand analytics role|not entitled|"
                           r"not authori[sz]ed|access (is )?denied")
BRAND_ANALYTICS_UNPUBLISHED = r"requested data is unavailable"


def _periodic(period: str) -> Tuning:
    return Tuning(interval=timedelta(days=1), overlap=timedelta(0), page_size=0,
                  lag=BRAND_ANALYTICS_PUBLISHED, period=period,
                  tunable=("interval_seconds", "period"))


SEARCH_TERMS = StreamKind(
    name="search-terms", table="search_terms", key=brand_analytics.TERMS_KEY,
    per_marketplace=True,
    report=ReportStream(brand_analytics.SEARCH_TERMS,
                        periods=("DAY", "WEEK", "MONTH", "QUARTER"),
                        refusal=BRAND_ANALYTICS_REFUSAL,
                        unpublished=BRAND_ANALYTICS_UNPUBLISHED),
    tuning=_periodic("WEEK"),
    # `backfill --stream search-terms --since`: every whole week since then, same sink. No
    # history limit is documented for Brand Analytics; the reports' usual two years assumed.
    backfill=Backfill(brand_analytics.SEARCH_TERMS, window=timedelta(days=7), period="WEEK",
                      published=BRAND_ANALYTICS_PUBLISHED, history=TWO_YEARS),
)

# One report per period and batch of 18 listed ASINs (the asin option's 200 characters), for
# the stream and for `backfill --stream search-query-performance --since` alike.
SEARCH_QUERY_PERFORMANCE = StreamKind(
    name="search-query-performance", table="search_query_performance",
    key=brand_analytics.SQP_KEY, per_marketplace=True,
    report=ReportStream(brand_analytics.SEARCH_QUERY_PERFORMANCE,
                        periods=("WEEK", "MONTH", "QUARTER"),
                        batches=brand_analytics.query_performance_batches,
                        refusal=BRAND_ANALYTICS_REFUSAL,
                        unpublished=BRAND_ANALYTICS_UNPUBLISHED),
    tuning=_periodic("WEEK"),
    backfill=Backfill(brand_analytics.SEARCH_QUERY_PERFORMANCE, window=timedelta(days=7),
                      period="WEEK", published=BRAND_ANALYTICS_PUBLISHED, history=TWO_YEARS,
                      batches=brand_analytics.query_performance_batches),
)


def configured(report: ConfiguredReport) -> StreamKind:
    """A report type a deployment syncs as a stream (``SPSYNC_REPORT_STREAMS``): one report a
    marketplace each interval, from the cursor minus the look-back, its rows into
    ``report_rows`` as they are (``report_types.RawSink``)."""
    name = "report-" + report.report_type.lower().removeprefix("get_").replace("_", "-")
    return StreamKind(
        name=name.rstrip("-"), table="report_rows", key=("report_id", "line"),
        per_marketplace=True, report=ReportStream(report.report_type),
        tuning=report_tuning(report.interval, report.lookback,
                             max(report.lookback, timedelta(days=1)), tunable=()))


BUILT_IN: tuple[StreamKind, ...] = (ORDERS, INVENTORY, LISTINGS, FINANCES, PAYOUTS,
                                    SETTLEMENTS, CATALOG, PRICES, SALES_TRAFFIC, RETURNS,
                                    RETURNS_MFN, REIMBURSEMENTS, FEE_ESTIMATES, STORAGE_FEES,
                                    LEDGER, LEDGER_SUMMARY, ORDER_METRICS, INBOUND,
                                    SEARCH_TERMS, SEARCH_QUERY_PERFORMANCE)


def _configured_kinds() -> tuple[StreamKind, ...]:
    try:
        reports = report_streams(os.environ.get("SPSYNC_REPORT_STREAMS", ""))
    except ConfigError:  # Settings() refuses the value at start-up, in one line
        return ()
    # A type a built-in kind already reads into its typed table is not synced twice (its rows
    # would go to that table through the type's sink, not to report_rows).
    typed = {k.report.report_type for k in BUILT_IN if k.report is not None}
    return tuple(configured(r) for r in reports if r.report_type not in typed)


KINDS: tuple[StreamKind, ...] = BUILT_IN + _configured_kinds()


def synced() -> list[StreamKind]:
    """The kinds with incremental syncs, in declaration order."""
    return [k for k in KINDS if k.synced]


def backfilled() -> list[StreamKind]:
    """The kinds ``backfill`` can fill from reports."""
    return [k for k in KINDS if k.backfill is not None]


def kind(name: str) -> StreamKind:
    for k in KINDS:
        if k.name == name:
            return k
    raise UnknownStreamError(f"unknown stream kind {name!r}")


def kind_of(stream: str) -> StreamKind:
    """The kind a ``sync_state.stream`` value belongs to."""
    for k in synced():
        if k.owns(stream):
            return k
    raise UnknownStreamError(f"unknown stream {stream!r}")


def streams_for(marketplace_ids: list[str]) -> list[str]:
    """Every stream a seller with these marketplaces is synced by."""
    return [s for k in synced() for s in k.streams(marketplace_ids)]


def operation_of(stream: str, seller: object) -> str | None:
    """The SP-API operation whose quota bucket paces ``stream`` for ``seller`` (a
    :class:`SellerRecord` or a ``sellers`` row mapping; None: no known bucket)."""
    try:
        return kind_of(stream).operation(seller)
    except UnknownStreamError:
        return None


def fallback_version(stream: str, seller: object) -> str | None:
    """The seller's API version for ``stream`` when it is not the kind's main one (``v0``
    for a seller whose finances fell back), else None: what ``status`` shows beside it."""
    try:
        k = kind_of(stream)
    except UnknownStreamError:
        return None
    if not k.by_api_version:
        return None
    version = k.version_of(seller)
    return version if version in k.by_api_version else None


def label(stream: str) -> str:
    """The stream's kind, as a bounded label for metrics."""
    return kind_of(stream).name


def setting_names() -> set[str]:
    """Every ``SPSYNC_*`` variable some kind takes."""
    return {name for k in KINDS for name in k.setting_names()}


def streams_table() -> str:
    """The table of streams in ``docs/schema.md`` (a test keeps the page equal to it)."""
    head = ("| kind | `sync_state.stream` | reads | into | every | settings | backfill |\n"
            "|---|---|---|---|---|---|---|")
    return "\n".join([head, *("| " + " | ".join(_doc_row(k)) + " |" for k in KINDS)])


def _doc_row(k: StreamKind) -> list[str]:
    stream = reads = every = "-"
    if k.synced and k.tuning is not None:
        stream = f"`{k.name}:<marketplaceId>`" if k.per_marketplace else f"`{k.name}`"
        every = f"{k.tuning.interval.total_seconds():g} s"
    if k.endpoint is not None:
        reads = f"`{k.endpoint.operation}`" + "".join(
            f" ({version} sellers: `{e.operation}`)" for version, e in k.by_api_version.items())
    if k.refresh is not None and k.tuning is not None:
        age = k.tuning.overlap.total_seconds() / 3600
        reads = (f"`{k.refresh.operation}`, {k.refresh.batch} a call, each read again after "
                 + (f"{age / 24:g} days" if age >= 24 else f"{age:g} h"))
    if k.report is not None and k.tuning is not None:
        reads = (f"`{k.report.report_type}` reports, looking back "
                 f"{k.tuning.overlap.total_seconds() / 86400:g} days")
        if k.report.periods:
            reads = (f"`{k.report.report_type}` reports of whole {k.tuning.period} periods, "
                     f"{k.tuning.lag.total_seconds() / 86400:g} days after they end"
                     + (", one per batch of ASINs" if k.report.batches else ""))
    into = f"`{k.table}` ({', '.join(k.key)})" + (f", `{k.children.table}`" if k.children
                                                   else "")
    settings = ", ".join(f"`{name}`" for name in k.setting_names()) or "-"
    return [f"`{k.name}`", stream, reads, into, every, settings, _doc_backfill(k)]


def _doc_backfill(k: StreamKind) -> str:
    b, api = k.backfill, k.api_backfill
    if api is not None and k.endpoint is not None:
        reach = f", at most {api.history.days} days back" if api.history else ""
        return f"its own API (`{k.endpoint.operation}`) from `--since`{reach}"
    if b is None:
        return "none: Amazon answers only what is true now" if k.refresh else "-"
    shape = (f"whole {b.period} periods" if b.period else f"{b.window.days}-day windows"
             if b.window else "one snapshot") + (
        " per marketplace" if b.per_marketplace else "")
    return f"`{b.report_type}`, {shape}"


if __name__ == "__main__":  # python -m worker.sync.registry: the table for docs/schema.md
    print(streams_table())
