"""Reports API 2021-06-30: createReport, getReports, getReport, cancelReport,
getReportDocument.

createReport checks its body against ``CreateReportSpecification`` (:mod:`bodies`),
then: the report type must look like one (``GET_…``); every marketplace must be the
seller's; ``dataStartTime``/``dataEndTime`` default to now, must not be in the future
(60 s of clock skew tolerated) and must be in order; the orders flat files accept at
most 30 days. The content is taken from the world at once (:mod:`report_content`; returns
and reimbursements from :mod:`returns`);
a report with no data ends CANCELLED, as Amazon's do. getReports takes ``nextToken``
as its only parameter, as the model says; pages run newest first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from . import (
    bodies,
    brand_analytics,
    downloads,
    fba_reports,
    report_content,
    returns,
    sales_traffic,
)
from .bigreport import GENERATED_TYPES, generated
from .documents import JSON, TSV, Document, stored, tsv_lines
from .errors import invalid_input, not_found, unauthorized
from .faults import DOCUMENT_EXPIRED, REPORT_CANCELLED, REPORT_FATAL, REPORT_OUTCOMES
from .gateway import Call
from .reports import CANCELLED, DONE, FATAL, IN_QUEUE, Report
from .spec import REPORTS
from .state import Simulator
from .windows import timestamp
from .world import Seller

REPORT_TYPE = re.compile(r"^GET_[A-Z0-9_]+$")
ORDER_TYPES = (report_content.ORDERS_BY_UPDATE, report_content.ORDERS_BY_DATE)
SALES_AND_TRAFFIC = "GET_SALES_AND_TRAFFIC_REPORT"
MAX_ORDER_WINDOW = 30 * 86_400
CLOCK_SKEW = 60.0
RETENTION = 90 * 86_400


@dataclass(frozen=True)
class Outcome:
    status: str  # DONE | FATAL | CANCELLED
    lines: list[str]
    media_type: str = TSV


def create_report(call: Call) -> dict[str, Any]:
    spec = bodies.parse(REPORTS, call.op.body or "", call.body)
    report_type: str = spec["reportType"]
    if not REPORT_TYPE.match(report_type):
        raise invalid_input(f"'{report_type}' is not a valid reportType.")
    markets: list[str] = spec["marketplaceIds"]
    for market in markets:
        if market not in call.seller.marketplace_ids:
            raise invalid_input(f"The seller does not sell in marketplace '{market}'.")
    start, end = _range(spec, call.now)
    if report_type in ORDER_TYPES and end - start > MAX_ORDER_WINDOW:
        raise invalid_input(f"{report_type} accepts a date range of at most 30 days.")
    options: dict[str, str] = spec.get("reportOptions", {})
    problem = sales_traffic.options_error(options) if report_type == SALES_AND_TRAFFIC else None
    if problem:
        raise invalid_input(problem)
    if report_type in brand_analytics.TYPES and \
            call.seller.brand_registry == brand_analytics.REFUSED:
        raise unauthorized("")  # Amazon's plain 403: no Brand Registry or no role
    outcome = _forced(call) or (
        _brand_analytics(call, report_type, markets, start, end, options)
        if report_type in brand_analytics.TYPES else
        _fba(call, report_type, markets, start, end) if report_type in fba_reports.TYPES
        else _outcome(call.sim, call.seller, report_type, markets, start, end, options,
                      call.now))
    report = _store(call.sim, call.seller, report_type, markets, (start, end), options, outcome)
    return {"reportId": report.report_id}


def _range(spec: dict[str, Any], now: float) -> tuple[float, float]:
    start = timestamp(spec, "dataStartTime") if "dataStartTime" in spec else now
    end = timestamp(spec, "dataEndTime") if "dataEndTime" in spec else now
    for name, value in (("dataStartTime", start), ("dataEndTime", end)):
        if value > now + CLOCK_SKEW:
            raise invalid_input(f"'{name}' must be prior to or equal to the current time.")
    if start > end:
        raise invalid_input("'dataStartTime' must be prior to or equal to 'dataEndTime'.")
    return start, min(end, now)


def _forced(call: Call) -> Outcome | None:
    fault = call.sim.faults.take("createReport", call.seller.seller_id, REPORT_OUTCOMES)
    if fault == REPORT_FATAL:
        return _fatal("The report could not be generated because of an internal error.")
    if fault == REPORT_CANCELLED:
        return Outcome(CANCELLED, [])
    return None


def _fatal(reason: str) -> Outcome:
    return Outcome(FATAL, [json.dumps({"errorDetails": reason}) + "\n"], JSON)


def _brand_analytics(call: Call, report_type: str, markets: list[str], start: float,
                     end: float, options: dict[str, str]) -> Outcome:
    """Search terms and search query performance (:mod:`brand_analytics`): FATAL as Amazon
    ends a request it refuses (not registered, not one whole period, not yet published)."""
    if call.seller.brand_registry == brand_analytics.REFUSED_FATAL:
        return _fatal(brand_analytics.NOT_REGISTERED)
    problem = brand_analytics.request_error(report_type, markets, start, end, options, call.now)
    if problem:
        return _fatal(problem)
    doc = brand_analytics.document(call.seller, report_type, markets[0], start, options)
    return Outcome(DONE, brand_analytics.lines(doc), JSON)


def _fba(call: Call, report_type: str, markets: list[str], start: float,
         end: float) -> Outcome:
    """FBA fees and the inventory ledger (:mod:`fba_reports`): of the first marketplace, as
    recorded by now."""
    market = next(m for m in call.seller.marketplaces if m.marketplace_id == markets[0])
    header, rows = fba_reports.rows_for(call.sim.world, call.seller, report_type, market,
                                        call.sim.config.seed, start, end, call.now)
    return Outcome(DONE, tsv_lines(header, rows)) if rows else Outcome(CANCELLED, [])


def _outcome(sim: Simulator, seller: Seller, report_type: str, markets: list[str], start: float,
             end: float, options: dict[str, str], now: float) -> Outcome:
    first = next(m for m in seller.marketplaces if m.marketplace_id == markets[0])
    header: tuple[str, ...]
    if report_type in ORDER_TYPES:
        by_update = report_type == report_content.ORDERS_BY_UPDATE
        rows = report_content.order_rows(seller, by_update, start, end, markets)
        header = report_content.ORDER_COLUMNS
    elif report_type == SALES_AND_TRAFFIC:
        if len(markets) > 1:
            return _fatal("GET_SALES_AND_TRAFFIC_REPORT supports only one marketplaceId.")
        body = sales_traffic.report(seller, first.marketplace_id, start, end, options, now)
        return Outcome(DONE, [json.dumps(body)], JSON)
    elif report_type in returns.COLUMNS:  # lines recorded by now, dated in the window
        header, rows = returns.report_rows(sim, seller, report_type, markets, start, end, now)
    elif report_type in report_content.SNAPSHOTS:
        header, build = report_content.SNAPSHOTS[report_type]
        rows = build(seller, first)
    else:
        header, rows = report_content.GENERIC_COLUMNS, report_content.generic_rows(seller, first)
    if not rows:  # Amazon cancels a report that has no data to return
        return Outcome(CANCELLED, [])
    return Outcome(DONE, tsv_lines(header, rows))


def _store(sim: Simulator, seller: Seller, report_type: str, markets: list[str],
           window: tuple[float, float], options: dict[str, str], outcome: Outcome) -> Report:
    book, now = sim.reports, sim.clock.now()
    document_id = book.new_document_id(seller.seller_id) if outcome.lines else None
    report = Report(
        report_id=book.new_report_id(seller.seller_id),
        seller_id=seller.seller_id,
        report_type=report_type,
        marketplace_ids=list(markets),
        created=now,
        data_start=window[0],
        data_end=window[1],
        delay=sim.config.report_delay,
        outcome=outcome.status,
        document_id=document_id,
        options=dict(options),
    )
    if document_id:
        sim.documents.add(stored(document_id, seller.seller_id, outcome.media_type,
                                 outcome.lines))
    book.add(report)
    return report


def generate_report(sim: Simulator, seller: Seller, report_type: str, rows: int,
                    prerender: bool = False) -> Report:
    """A DONE report whose document is ``rows`` synthetic order rows, made while streaming
    (or, with ``prerender``, compressed now into a temporary file and streamed from it)."""
    if report_type not in (*GENERATED_TYPES, brand_analytics.SEARCH_TERMS):
        raise ValueError(f"report_type must be one of {', '.join(GENERATED_TYPES)}, "
                         f"{brand_analytics.SEARCH_TERMS}")
    if report_type == brand_analytics.SEARCH_TERMS:
        return _generate_search_terms(sim, seller, rows, prerender)
    book, now = sim.reports, sim.clock.now()
    document_id = book.new_document_id(seller.seller_id)
    report = Report(
        report_id=book.new_report_id(seller.seller_id),
        seller_id=seller.seller_id,
        report_type=report_type,
        marketplace_ids=seller.marketplace_ids,
        created=now,
        data_start=now - MAX_ORDER_WINDOW,
        data_end=now,
        delay=0.0,
        outcome=str(DONE),
        document_id=document_id,
    )
    seed = f"{sim.config.seed}:generated:{document_id}"
    document = generated(document_id, seller, rows, report.data_start, now, seed)
    sim.documents.add(downloads.prerender(document) if prerender else document)
    book.add(report)
    return report


def _generate_search_terms(sim: Simulator, seller: Seller, rows: int,
                           prerender: bool) -> Report:
    """A DONE search terms report of ``rows`` entries, one line made while streaming."""
    book = sim.reports
    document_id = book.new_document_id(seller.seller_id)
    market = seller.marketplace_ids[0]
    first, last = brand_analytics.period_of("WEEK", brand_analytics.BIG_WEEK)
    report = Report(
        report_id=book.new_report_id(seller.seller_id), seller_id=seller.seller_id,
        report_type=brand_analytics.SEARCH_TERMS, marketplace_ids=[market],
        created=sim.clock.now(), data_start=_epoch(first), data_end=_epoch(last) + 86_399,
        delay=0.0, outcome=str(DONE), document_id=document_id,
        options={"reportPeriod": "WEEK"})
    seed = f"{sim.config.seed}:generated:{document_id}"
    document = Document(document_id, seller.seller_id, JSON,
                        lambda: brand_analytics.big_search_terms(seller, market, rows, seed),
                        rows + 2, rows * brand_analytics.BIG_ENTRY_BYTES)
    sim.documents.add(downloads.prerender(document) if prerender else document)
    book.add(report)
    return report


def _epoch(day: date) -> float:
    return datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()


def get_report(call: Call) -> dict[str, Any]:
    return _report(call).render(call.now)


def cancel_report(call: Call) -> dict[str, Any]:
    """Only an IN_QUEUE report can be cancelled; the success body is empty."""
    report = _report(call)
    status = report.status(call.now)
    if status != IN_QUEUE:
        raise invalid_input(
            f"Report '{report.report_id}' is {status}; only IN_QUEUE reports can be cancelled."
        )
    report.cancelled = True
    return {}


def _report(call: Call) -> Report:
    report_id: str = call.params["reportId"]
    report = call.sim.reports.get(call.seller.seller_id, report_id)
    if report is None:
        raise not_found(f"Report '{report_id}' was not found.")
    return report


def get_reports(call: Call) -> dict[str, Any]:
    p, seller_id = call.params, call.seller.seller_id
    if "nextToken" in p:
        if call.sent - {"nextToken"}:
            raise invalid_input("'nextToken' must be the only parameter when it is sent.")
        state = call.sim.tokens.decode(p["nextToken"], seller_id, "getReports", "nextToken")
    else:
        state = _filters(call)
    rows = sorted((r for r in call.sim.reports.of(seller_id) if _matches(r, state, call.now)),
                  key=lambda r: (r.created, r.report_id), reverse=True)
    if state["after"] is not None:
        after = (float(state["after"][0]), str(state["after"][1]))
        rows = [r for r in rows if (r.created, r.report_id) < after]
    chunk = rows[: state["size"]]
    body: dict[str, Any] = {"reports": [r.render(call.now) for r in chunk]}
    if len(rows) > state["size"]:
        last = chunk[-1]
        next_state = {**state, "after": [last.created, last.report_id]}
        body["nextToken"] = call.sim.tokens.encode(seller_id, "getReports", next_state)
    return body


def _filters(call: Call) -> dict[str, Any]:
    p = call.params
    if "reportTypes" not in p:
        raise invalid_input("Either 'reportTypes' or 'nextToken' is required.")
    since = timestamp(p, "createdSince") if "createdSince" in p else call.now - RETENTION
    until = timestamp(p, "createdUntil") if "createdUntil" in p else call.now
    if since > until:
        raise invalid_input("'createdSince' must be prior to or equal to 'createdUntil'.")
    return {
        "types": p["reportTypes"],
        "statuses": p.get("processingStatuses"),
        "markets": p.get("marketplaceIds"),
        "since": since,
        "until": until,
        "size": p["pageSize"],
        "after": None,
    }


def _matches(report: Report, state: dict[str, Any], now: float) -> bool:
    return (
        report.report_type in state["types"]
        and state["since"] <= report.created <= state["until"]
        and (state["statuses"] is None or report.status(now) in state["statuses"])
        and (state["markets"] is None or bool(set(report.marketplace_ids) & set(state["markets"])))
    )


def get_report_document(call: Call) -> dict[str, Any]:
    document_id: str = call.params["reportDocumentId"]
    document = call.sim.documents.get(document_id)
    if document is None or document.seller_id != call.seller.seller_id:
        raise not_found(f"Report document '{document_id}' was not found.")
    kinds = frozenset({DOCUMENT_EXPIRED})
    expired = call.sim.faults.take("getReportDocument", call.seller.seller_id, kinds)
    expires = call.now - 1.0 if expired else call.now + call.sim.config.document_url_ttl
    encoding = bool(call.params.get("enableContentEncodingUrlHeader")) and document.compressed
    body: dict[str, Any] = {
        "reportDocumentId": document_id,
        "url": call.sim.documents.url(call.origin, document_id, expires, encoding),
    }
    if document.compressed:
        body["compressionAlgorithm"] = "GZIP"
    return body
