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
from worker.sync import (
    finances,
    finances_v0,
    inventory,
    listings,
    order_metrics,
    orders,
    report_types,
    settlements,
)
from worker.sync.declaration import (
    ApiBackfill,
    Backfill,
    Children,
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
        tunable=STREAM_KNOBS),
    backfill=Backfill(
        report_types.ORDERS_BY_UPDATE, window=timedelta(days=30),  # what the flat file takes
        per_marketplace=False, history=TWO_YEARS, older_markets=JP_AU_SG,
        older_start=datetime(2016, 1, 1, tzinfo=UTC), hands_over=True),
)

INVENTORY = StreamKind(
    name="inventory", table="inventory_summaries",
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
    tuning=Tuning(interval=timedelta(days=1), overlap=timedelta(days=3), page_size=0,
                  lag=timedelta(minutes=2), max_span=timedelta(days=30),
                  initial=timedelta(days=7),  # a longer history: backfill
                  tunable=("interval_seconds", "overlap_seconds")),
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
)


def configured(report: ConfiguredReport) -> StreamKind:
    """A report type a deployment syncs as a stream (``SPSYNC_REPORT_STREAMS``): one report a
    marketplace each interval, from the cursor minus the look-back, its rows into
    ``report_rows`` as they are (``report_types.RawSink``)."""
    name = "report-" + report.report_type.lower().removeprefix("get_").replace("_", "-")
    return StreamKind(
        name=name.rstrip("-"), table="report_rows", key=("report_id", "line"),
        per_marketplace=True, report=ReportStream(report.report_type),
        tuning=Tuning(interval=report.interval, overlap=report.lookback, page_size=0,
                      lag=timedelta(minutes=2), max_span=timedelta(days=30),
                      initial=max(report.lookback, timedelta(days=1)), tunable=()))


BUILT_IN: tuple[StreamKind, ...] = (ORDERS, INVENTORY, LISTINGS, FINANCES, PAYOUTS,
                                    SETTLEMENTS, SALES_TRAFFIC, ORDER_METRICS)


def _configured_kinds() -> tuple[StreamKind, ...]:
    try:
        reports = report_streams(os.environ.get("SPSYNC_REPORT_STREAMS", ""))
    except ConfigError:  # Settings() refuses the value at start-up, in one line
        return ()
    return tuple(configured(r) for r in reports)


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
    if k.report is not None and k.tuning is not None:
        reads = (f"`{k.report.report_type}` reports, looking back "
                 f"{k.tuning.overlap.total_seconds() / 86400:g} days")
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
        return "-"
    shape = (f"{b.window.days}-day windows" if b.window else "one snapshot") + (
        " per marketplace" if b.per_marketplace else "")
    return f"`{b.report_type}`, {shape}"


if __name__ == "__main__":  # python -m worker.sync.registry: the table for docs/schema.md
    print(streams_table())
