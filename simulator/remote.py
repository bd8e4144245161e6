"""A tiny blocking client for the simulator's ``/_sim`` control endpoints (stdlib only).

Used by the demo and the tests; it never talks to Amazon.
"""

from __future__ import annotations

import json
import urllib.request
from typing import Any
from urllib.parse import quote, urlencode


class SimulatorClient:
    def __init__(self, base_url: str, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self._timeout = timeout

    def _request(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - loopback simulator URL
            self.base_url + path, data=data, method=method,
            headers={"content-type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=self._timeout) as resp:  # noqa: S310
            raw = resp.read()
        return json.loads(raw) if raw else None

    def sellers(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/_sim/sellers")
        return result

    def truth(self, selling_partner_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/orders?seller_id={quote(selling_partner_id)}")
        return result

    def stats(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", "/_sim/stats")
        return result

    def control(self, **settings: Any) -> None:
        self._request("POST", "/_sim/control", settings)

    def advance_clock(self, seconds: float) -> float:
        """Move the simulator's time forward (e.g. past every access token's expiry)."""
        return float(self._request("POST", "/_sim/clock", {"advance": seconds})["now"])

    def mutate(self, selling_partner_id: str, count: int, kind: str = "orders") -> list[str]:
        """Apply ``count`` changes now: ``kind`` orders (the changed order ids), unshipped
        (new merchant-fulfilled orders ready to ship: their ids), inventory or listings (the
        changed SKUs)."""
        result = self._request("POST", "/_sim/mutate",
                               {"seller_id": selling_partner_id, "count": count, "kind": kind})
        return list(result["changed"])

    def truth_inventory(self, selling_partner_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/inventory?seller_id={quote(selling_partner_id)}")
        return result

    def truth_sales_traffic(self, selling_partner_id: str, marketplace_id: str,
                            day: str) -> dict[str, Any]:
        """One UTC day's sales and traffic document (DAY, CHILD) as a report asked now."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/sales-traffic?seller_id={quote(selling_partner_id)}"
                   f"&marketplace_id={quote(marketplace_id)}&date={quote(day)}")
        return result

    def truth_brand_analytics(self, kind: str, selling_partner_id: str, marketplace_id: str,
                              period: str, start: str,
                              asins: list[str] | None = None) -> dict[str, Any]:
        """The document a ``kind`` report (``search-terms`` or ``search-query-performance``)
        of the period starting ``start`` shows now (no ``asins``: every listed ASIN)."""
        query = urlencode({"seller_id": selling_partner_id, "marketplace_id": marketplace_id,
                           "period": period, "start": start, "asins": ",".join(asins or [])})
        result: dict[str, Any] = self._request("GET", f"/_sim/truth/{kind}?{query}")
        return result

    def brand_registry(self, selling_partner_id: str, status: str) -> None:
        """``registered``, ``refused`` (403 on Brand Analytics reports) or ``refused-fatal``."""
        self._request("POST", "/_sim/brand-registry",
                      {"seller_id": selling_partner_id, "status": status})

    def truth_listings(self, selling_partner_id: str) -> dict[str, Any]:
        """``{"listings": [{"sku", "marketplaceId", "status", "asin", "issues", "price",
        "quantity", "onHand", "oversold"}]}``; the last three are None for FBA listings."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/listings?seller_id={quote(selling_partner_id)}")
        return result

    def merchant_stock(self, selling_partner_id: str, sku: str, *, on_hand: int | None = None,
                       add: int | None = None) -> dict[str, Any]:
        """The merchant's warehouse: set an MFN SKU's stock to a count (``on_hand``) and/or
        receive ``add`` units; ``{"sku", "on_hand", "offered": {marketplace: quantity}}``."""
        body: dict[str, Any] = {"seller_id": selling_partner_id, "sku": sku}
        if on_hand is not None:
            body["on_hand"] = on_hand
        if add is not None:
            body["add"] = add
        result: dict[str, Any] = self._request("POST", "/_sim/merchant-stock", body)
        return result

    def truth_inbound(self, selling_partner_id: str) -> dict[str, Any]:
        """``{"plans": [{"inboundPlanId", "operationId", "name", "status", ...}]}``."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/inbound?seller_id={quote(selling_partner_id)}")
        return result

    def truth_inbound_plans(self, selling_partner_id: str) -> dict[str, Any]:
        """``{"plans", "shipments", "items"}``: the inbound reads' documents as they are now."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/inbound-plans?seller_id={quote(selling_partner_id)}")
        return result

    def truth_finances(self, selling_partner_id: str) -> dict[str, Any]:
        """``{"transactions": [...], "groups": [...], "v0_events": [...]}``: every transaction
        posted by now (as listTransactions renders it), every financial event group (as
        listFinancialEventGroups does) and every posted entry listFinancialEvents shows now
        (never deferred, or released), ``{"list": "ShipmentEventList" | "RefundEventList" |
        "ServiceFeeEventList", "event": {...}}`` in ledger order: what a perfect mirror would
        hold now."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/finances?seller_id={quote(selling_partner_id)}")
        return result

    def truth_catalog(self, marketplace_id: str, asins: list[str]) -> dict[str, Any]:
        """``{"items": [...]}``: the catalog items searchCatalogItems returns now for these
        ASINs in the marketplace (every dataset the catalog stream asks for)."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/catalog?marketplace_id={quote(marketplace_id)}"
            f"&asins={quote(','.join(asins))}")
        return result

    def truth_prices(self, marketplace_id: str, asins: list[str]) -> dict[str, Any]:
        """``{"offers": {asin: [...]}}``: every offer of each ASIN now, cheapest first."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/prices?marketplace_id={quote(marketplace_id)}"
            f"&asins={quote(','.join(asins))}")
        return result

    def truth_settlements(self, selling_partner_id: str) -> dict[str, Any]:
        """``{"settlements": [{"settlementId", "startDate", "endDate", "depositDate",
        "totalAmount", "currency", "reportId", "lines": [{column: value}]}]}``: the latest
        issue of each settlement report, oldest period first (``totalAmount`` and the lines'
        values are the flat file's text)."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/settlements?seller_id={quote(selling_partner_id)}")
        return result

    def truth_fees(self, selling_partner_id: str) -> dict[str, Any]:
        """``{"estimates": [...], "storage": [...]}``: every marketplace's FBA fee estimates
        and every monthly storage fee row published by now, each ``{column: cell}`` (the flat
        files' headers) plus ``marketplaceId``."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/fees?seller_id={quote(selling_partner_id)}")
        return result

    def truth_ledger(self, selling_partner_id: str) -> dict[str, Any]:
        """``{"ledger": [...]}``: every inventory ledger event recorded by now, each
        ``{column: cell}`` (the ledger detail's headers) plus ``marketplaceId`` and
        ``recorded`` (epoch seconds; later than the event's ``Date`` for back-dated ones)."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/ledger?seller_id={quote(selling_partner_id)}")
        return result

    def truth_returns(self, selling_partner_id: str) -> dict[str, Any]:
        """``{"returns": [...], "returns_mfn": [...], "reimbursements": [...]}``: every FBA
        return, MFN return and reimbursement line recorded by now (what the reports asked for
        now would hold, over all dates), oldest first, each ``{"marketplaceId", "event",
        "recorded", "row": {column: cell}}`` (``event`` the date the line is dated by)."""
        result: dict[str, Any] = self._request(
            "GET", f"/_sim/truth/returns?seller_id={quote(selling_partner_id)}")
        return result

    def reissue_settlement(self, selling_partner_id: str, settlement_id: str) -> dict[str, Any]:
        """Amazon re-issues a settlement: a new report (new id and document, created now) for
        the same settlement id, with one more line and its total updated; the new issue, as
        :meth:`truth_settlements` renders it."""
        result: dict[str, Any] = self._request(
            "POST", "/_sim/settlements/reissue",
            {"seller_id": selling_partner_id, "settlement_id": settlement_id})
        return result

    def writes(self) -> dict[str, Any]:
        """Per write operation: how many requests were received and applied, by key."""
        result: dict[str, Any] = self.stats()["writes"]
        return result

    def generate_report(self, selling_partner_id: str, rows: int,
                        report_type: str | None = None,
                        prerender: bool = False) -> dict[str, Any]:
        """A DONE report with ``rows`` synthetic order rows; its ids and status.

        ``prerender``: compress the document now (this call takes that long; give the client
        a long enough ``timeout``) so that downloading it costs only I/O."""
        body: dict[str, Any] = {"seller_id": selling_partner_id, "rows": rows,
                                "prerender": prerender}
        if report_type is not None:
            body["report_type"] = report_type
        result: dict[str, Any] = self._request("POST", "/_sim/reports/generate", body)
        return result

    def fault(self, operation: str | None, fault: str, count: int | None = None,
              seller_id: str | None = None, retry_after: float | None = None,
              delay: float | None = None, probability: float | None = None,
              duration: float | None = None) -> None:
        """Inject ``count`` faults; ``delay`` is the seconds of a ``slow`` or ``hang`` fault.

        ``probability``: fire on that share of the matching calls; ``duration``: the rule
        lives that many seconds. ``count`` None: 1, or unlimited with either of those.
        ``operation`` None: the one the fault belongs to (report, download, LWA faults)."""
        body: dict[str, Any] = {"fault": fault}
        for key, value in (("operation", operation), ("count", count),
                           ("seller_id", seller_id), ("retry_after", retry_after),
                           ("delay", delay), ("probability", probability),
                           ("duration", duration)):
            if value is not None:
                body[key] = value
        self._request("POST", "/_sim/faults", body)

    def clear_faults(self) -> int:
        """Drop every pending fault rule; how many there were."""
        return int(self._request("DELETE", "/_sim/faults")["cleared"])

    def faults_fired(self) -> list[dict[str, Any]]:
        """``[{"seller_id", "operation", "fault", "fired"}]``: every fault that fired."""
        result: list[dict[str, Any]] = self.stats()["faults"]
        return result

    def limit(self, selling_partner_id: str, operation: str, rate: float) -> None:
        """Change one seller's usage plan for one operation (requests/second, as served)."""
        self._request("POST", "/_sim/limits", {"seller_id": selling_partner_id,
                                               "operation": operation, "rate": rate})

    def revoke(self, selling_partner_id: str) -> None:
        self._request("POST", f"/_sim/sellers/{quote(selling_partner_id)}/revoke", {})

    def consent_as(self, selling_partner_id: str) -> None:
        """The seller who approves the next consent pages (``/apps/authorize/consent``)."""
        self._request("POST", "/_sim/consent", {"selling_partner_id": selling_partner_id})

    def notify(self, selling_partner_id: str, type: str = "ORDER_CHANGE", *,
               count: int = 1, rate: float | None = None,
               subject: str | None = None) -> dict[str, Any]:
        """Publish ``count`` notifications of ``type`` to the seller's subscription: now
        (``{"published": n}``) or ``rate`` a second in the background (``{"scheduled": n}``).
        ``subject``: the order id (ORDER_CHANGE), SKU or report id they are about; without
        it, the seller's orders (latest change first), SKUs or finished reports in turn."""
        field = {"ORDER_CHANGE": "order_id", "REPORT_PROCESSING_FINISHED": "report_id"}.get(
            type, "sku")
        body: dict[str, Any] = {"seller_id": selling_partner_id, "type": type, "count": count}
        if rate is not None:
            body["rate"] = rate
        if subject is not None:
            body[field] = subject
        result: dict[str, Any] = self._request("POST", "/_sim/notify", body)
        return result

    def notification_stats(self) -> dict[str, Any]:
        """``{"sent", "failed", "pending", "last_error", "by_type": {type: {"sent",
        "failed"}}, "destinations", "subscriptions"}``."""
        result: dict[str, Any] = self.stats()["notifications"]
        return result
