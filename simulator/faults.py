"""Injected faults: "the next n calls of this operation (for this seller) go wrong".

Two stages, because the failures happen at different places in a real request:
``expired_token``, ``unauthorized`` and ``throttle`` replace the auth/quota decision (they
count as a call but take no token); ``http_500``, ``http_503``, ``malformed`` and ``truncated``
hit calls that got past the quota and would otherwise have succeeded. A rule fires on
exactly ``count`` calls that reach its stage, oldest rule first.

The pre-quota faults:

- ``expired_token``: 403 ``Unauthorized`` "Access to requested resource is denied." with the
  details "The access token you provided has expired." (a new access token helps);
- ``throttle``: 429 ``QuotaExceeded`` (``retry_after``: sent as a Retry-After header);
- ``unauthorized``: 403 ``Unauthorized`` "Access to requested resource is denied." (empty
  details), as Amazon answers a seller whose application lacks the role (or the seller the
  access) for the operation's API; unlike ``expired_token`` a fresh access token does not
  help. With ``probability: 1`` (or a ``duration``) and no ``count`` it answers every call of
  the operation (for the seller, if given) while the rule lives.

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

Chaos faults (what a long run against a flaky Amazon meets):

- ``hang`` (any operation, a post-handler fault): the answer is held ``delay``
  seconds before it is sent, so a client with a shorter timeout gives up first.
- ``token_rejected``: a call that carries a pagination token (``paginationToken``,
  ``NextToken``, ``nextToken``, ``pageToken``) gets 400 InvalidInput "has expired", as an
  expired or otherwise refused token does; it fires after the quota (it counts as a call).
- ``lwa_outage`` (operation ``lwa``, the token endpoint): LWA answers 503
  ``temporarily_unavailable`` to every grant; give it a ``duration``.

Any rule may also carry a ``probability`` (it fires on that share of the calls that reach
its stage, drawn from the simulator's seeded RNG; the next matching rule gets the calls it
lets pass) and a ``duration`` (seconds of simulator time, after which it is gone). With
either, ``count`` defaults to unlimited. Every firing is tallied per (seller, operation,
fault) and shown in ``/_sim/stats`` ``faults``.
"""

from __future__ import annotations

import json
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

HANG = "hang"
TOKEN_REJECTED = "token_rejected"  # noqa: S105 - a fault name
LWA_OUTAGE = "lwa_outage"
LWA_OPERATION = "lwa"  # what an LWA fault names as its operation
UNAUTHORIZED = "unauthorized"
PRE_QUOTA = frozenset({"expired_token", UNAUTHORIZED, "throttle"})
POST_HANDLER = frozenset({"http_500", "http_503", "malformed", "truncated", HANG})
TOKEN_FAULTS = frozenset({TOKEN_REJECTED})
TOKEN_PARAMS = ("paginationToken", "NextToken", "nextToken", "pageToken")
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
    LWA_OUTAGE: LWA_OPERATION,
}
ANSWER_LOST = "answer_lost"
SLOW = "slow"
WRITE_FAULTS = frozenset({ANSWER_LOST, SLOW})
KINDS = PRE_QUOTA | POST_HANDLER | TOKEN_FAULTS | frozenset(FAULT_OPERATIONS) | WRITE_FAULTS
DELAYED = frozenset({SLOW, HANG})  # the kinds that need a ``delay``


@dataclass
class FaultRule:
    operation: str
    seller_id: str | None
    fault: str
    remaining: int | None  # None: unlimited (a probability or duration rule)
    retry_after: float | None = None  # "throttle" only: sent as a Retry-After header
    delay: float | None = None  # "slow" and "hang" only: seconds the request is held
    probability: float | None = None  # fires on this share of matching calls; None: all
    until: float | None = None  # simulator time after which the rule is gone

    def matches(self, operation: str, seller_id: str, kinds: frozenset[str]) -> bool:
        return (
            (self.remaining is None or self.remaining > 0)
            and self.fault in kinds
            and self.operation == operation
            and self.seller_id in (None, seller_id)
        )


class FaultBook:
    def __init__(
        self, rng: random.Random | None = None, now: Callable[[], float] | None = None
    ) -> None:
        self._rules: list[FaultRule] = []
        self._rng = rng or random.Random(0)
        self._now = now
        self._fired: Counter[tuple[str, str, str]] = Counter()

    def add(self, rule: FaultRule) -> None:
        self._rules.append(rule)

    def take(self, operation: str, seller_id: str, kinds: frozenset[str]) -> str | None:
        """Consume one firing of the oldest matching rule; its fault kind, or None."""
        rule = self.take_rule(operation, seller_id, kinds)
        return rule.fault if rule else None

    def take_rule(
        self, operation: str, seller_id: str, kinds: frozenset[str]
    ) -> FaultRule | None:
        """Consume one firing of the oldest matching rule that fires; the rule, or None."""
        self._expire()
        for rule in [r for r in self._rules if r.matches(operation, seller_id, kinds)]:
            if rule.probability is not None and self._rng.random() >= rule.probability:
                continue  # this call escapes this rule; a later one may still catch it
            if rule.remaining is not None:
                rule.remaining -= 1
                if rule.remaining == 0:
                    self._rules.remove(rule)
            self._fired[(seller_id, operation, rule.fault)] += 1
            return rule
        return None

    def _expire(self) -> None:
        if self._now is not None and any(r.until is not None for r in self._rules):
            now = self._now()
            self._rules = [r for r in self._rules if r.until is None or now < r.until]

    def pending(self) -> list[dict[str, Any]]:
        # ``delay``, ``probability`` and ``until`` are shown only on the rules that have them
        self._expire()
        optional = {"delay", "probability", "until"}
        return [{k: v for k, v in asdict(rule).items() if k not in optional or v is not None}
                for rule in self._rules]

    def fired(self) -> list[dict[str, Any]]:
        """How often each fault fired, per (seller, operation, fault)."""
        return [{"seller_id": s, "operation": o, "fault": f, "fired": n}
                for (s, o, f), n in sorted(self._fired.items())]

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
