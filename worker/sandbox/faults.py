"""Injected faults: "the next n calls of this operation (for this seller) go wrong".

Two stages, because the failures happen at different places in a real request:
``expired_token`` and ``throttle`` replace the auth/quota decision (they count as a
call but take no token); ``http_500``, ``http_503``, ``malformed`` and ``truncated``
hit calls that got past the quota and would otherwise have succeeded. A rule fires on
exactly ``count`` calls that reach its stage, oldest rule first.

Report faults belong to one operation each (``/_sim/faults`` fills it in when omitted):

- ``report_fatal`` (createReport): the next created report ends FATAL; its
  ``reportDocumentId`` names a JSON document ``{"errorDetails": "..."}``.
- ``report_cancelled`` (createReport): the next created report ends CANCELLED, no document.
- ``document_expired`` (getReportDocument): the next getReportDocument returns a URL
  that has already expired (403 ``AccessDenied`` from the download).
- ``document_truncated_gzip`` (getReportDocument): the next download of a GZIP document
  streams the first half of its rows and stops mid-gzip-stream (no final block, no
  trailer); the HTTP response itself ends normally.
- ``document_malformed_row`` (getReportDocument): in the next download of a TSV
  document, the middle data row is missing its last two columns.

Both ``document_*`` download faults fire on the download (``GET`` of the URL), not on
getReportDocument, and only on a document they apply to (GZIP / TSV respectively).

Write faults (:mod:`writes`; the write operations only):

- ``answer_lost``: the write is applied, then the connection is dropped without an answer
  (the client sees a reset). ``http_500``/``http_503`` on a write also apply it first.
- ``slow``: the request, once received, waits ``delay`` seconds before it is handled (and
  applied), as a busy Amazon would make it; a client that gives up meanwhile (or dies)
  does not stop it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

PRE_QUOTA = frozenset({"expired_token", "throttle"})
POST_HANDLER = frozenset({"http_500", "http_503", "malformed", "truncated"})
REPORT_FATAL = "report_fatal"
REPORT_CANCELLED = "report_cancelled"
DOCUMENT_EXPIRED = "document_expired"
DOCUMENT_TRUNCATED_GZIP = "document_truncated_gzip"
DOCUMENT_MALFORMED_ROW = "document_malformed_row"
REPORT_OUTCOMES = frozenset({REPORT_FATAL, REPORT_CANCELLED})
# The one operation each report fault belongs to.
FAULT_OPERATIONS: dict[str, str] = {
    REPORT_FATAL: "createReport",
    REPORT_CANCELLED: "createReport",
    DOCUMENT_EXPIRED: "getReportDocument",
    DOCUMENT_TRUNCATED_GZIP: "getReportDocument",
    DOCUMENT_MALFORMED_ROW: "getReportDocument",
}
ANSWER_LOST = "answer_lost"
SLOW = "slow"
WRITE_FAULTS = frozenset({ANSWER_LOST, SLOW})
KINDS = PRE_QUOTA | POST_HANDLER | frozenset(FAULT_OPERATIONS) | WRITE_FAULTS


@dataclass
class FaultRule:
    operation: str
    seller_id: str | None
    fault: str
    remaining: int
    retry_after: float | None = None  # "throttle" only: sent as a Retry-After header
    delay: float | None = None  # "slow" only: seconds before the request is handled

    def matches(self, operation: str, seller_id: str, kinds: frozenset[str]) -> bool:
        return (
            self.remaining > 0
            and self.fault in kinds
            and self.operation == operation
            and self.seller_id in (None, seller_id)
        )


class FaultBook:
    def __init__(self) -> None:
        self._rules: list[FaultRule] = []

    def add(self, rule: FaultRule) -> None:
        self._rules.append(rule)

    def take(self, operation: str, seller_id: str, kinds: frozenset[str]) -> str | None:
        """Consume one firing of the oldest matching rule; its fault kind, or None."""
        rule = self.take_rule(operation, seller_id, kinds)
        return rule.fault if rule else None

    def take_rule(
        self, operation: str, seller_id: str, kinds: frozenset[str]
    ) -> FaultRule | None:
        """Consume one firing of the oldest matching rule; the rule, or None."""
        rule = next((r for r in self._rules if r.matches(operation, seller_id, kinds)), None)
        if rule is None:
            return None
        rule.remaining -= 1
        if rule.remaining == 0:
            self._rules.remove(rule)
        return rule

    def pending(self) -> list[dict[str, Any]]:
        # ``delay`` is shown only on the ``slow`` rules it belongs to
        return [{k: v for k, v in asdict(rule).items() if k != "delay" or v is not None}
                for rule in self._rules]

    def clear(self) -> int:
        cleared = len(self._rules)
        self._rules.clear()
        return cleared


def truncate(body: dict[str, Any]) -> bytes:
    """A 200 body cut mid-JSON, as a dropped connection would leave it."""
    text = json.dumps(body).encode()
    return text[: max(1, len(text) // 2)]


def malform(operation: str, body: dict[str, Any]) -> dict[str, Any]:
    """A 200 body that parses as JSON but breaks the model's response schema."""
    breaker = _BREAKERS.get(operation)
    if breaker is None:  # e.g. cancelReport, whose model declares no body: send a bogus one
        return {"errors": "three"}
    return breaker(body)


def _break_first(records: list[dict[str, Any]], id_field: str, count_field: str) -> None:
    # Dropping a required id and turning a count into text both violate the schema.
    if not records:
        records.append({count_field: "three"})
        return
    records[0].pop(id_field, None)
    records[0][count_field] = "three"


def _get_orders(body: dict[str, Any]) -> dict[str, Any]:
    _break_first(body["payload"]["Orders"], "AmazonOrderId", "NumberOfItemsShipped")
    return body


def _get_order_items(body: dict[str, Any]) -> dict[str, Any]:
    _break_first(body["payload"]["OrderItems"], "OrderItemId", "QuantityOrdered")
    return body


def _search_orders(body: dict[str, Any]) -> dict[str, Any]:
    _break_first(body["orders"], "orderId", "orderItems")
    return body


def _get_order(body: dict[str, Any]) -> dict[str, Any]:
    _break_first([body["order"]], "orderId", "orderItems")
    return body


def _inventory(body: dict[str, Any]) -> dict[str, Any]:
    _break_first(body["payload"]["inventorySummaries"], "sellerSku", "totalQuantity")
    return body


def _listings_item(body: dict[str, Any]) -> dict[str, Any]:
    _break_first([body], "sku", "summaries")
    return body


def _listings_search(body: dict[str, Any]) -> dict[str, Any]:
    body["numberOfResults"] = "three"
    return body


def _reports(body: dict[str, Any]) -> dict[str, Any]:
    _break_first(body["reports"], "reportId", "createdTime")
    return body


def _report(body: dict[str, Any]) -> dict[str, Any]:
    _break_first([body], "reportId", "processingStatus")
    return body


def _report_id(body: dict[str, Any]) -> dict[str, Any]:
    body.pop("reportId", None)
    body["reportDocumentId"] = 3
    return body


_BREAKERS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "getOrders": _get_orders,
    "getOrderItems": _get_order_items,
    "searchOrders": _search_orders,
    "getOrder": _get_order,
    "getInventorySummaries": _inventory,
    "getListingsItem": _listings_item,
    "searchListingsItems": _listings_search,
    "createReport": _report_id,
    "getReports": _reports,
    "getReport": _report,
    "getReportDocument": _report_id,
}
