"""The outbox commands as data: which SP-API write each one is, how its request is built
from ``params``, how Amazon's success answer is read, and what mirror streams it changes.

A command is a frozen :class:`Command`; the runner (:mod:`worker.outbox.run`) is the same
for all of them. Reading Amazon's state after a lost answer lives in
:mod:`worker.outbox.reconcile`, following an asynchronous operation in
:mod:`worker.outbox.follow`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from worker.db.sellers import SellerRecord
from worker.sync.registry import LISTINGS, ORDERS

ACCEPTED, REJECTED, POLLING = "accepted", "rejected", "polling"


@dataclass(frozen=True)
class Request:
    path_params: dict[str, str]
    query: dict[str, Any] | None
    body: Any


@dataclass(frozen=True)
class Command:
    name: str
    operation: str  # the SP-API operation it sends (operations.py)
    request: Callable[[SellerRecord, dict[str, Any]], Request]
    # status for Amazon's 2xx answer body: accepted | rejected | polling; None when the
    # answer cannot be read (then it counts as lost: the write may have been applied)
    verdict: Callable[[Any], str | None]
    streams: Callable[[dict[str, Any]], list[str]]  # mirror streams an accepted write changes


def _confirm_shipment(seller: SellerRecord, params: dict[str, Any]) -> Request:
    body = {k: v for k, v in params.items() if k != "orderId"}
    return Request({"orderId": params["orderId"]}, None, body)


def _patch(seller: SellerRecord, params: dict[str, Any]) -> Request:
    return Request(_listing(seller, params), {"marketplaceIds": params["marketplaceIds"]},
                   {"productType": params["productType"], "patches": params["patches"]})


def _delete(seller: SellerRecord, params: dict[str, Any]) -> Request:
    return Request(_listing(seller, params), {"marketplaceIds": params["marketplaceIds"]}, None)


def _listing(seller: SellerRecord, params: dict[str, Any]) -> dict[str, str]:
    return {"sellerId": seller.selling_partner_id, "sku": params["sku"]}


def _inbound(seller: SellerRecord, params: dict[str, Any]) -> Request:
    return Request({}, None, params)


def _no_body(body: Any) -> str | None:
    return ACCEPTED  # 204: the model declares no body


def _submission(body: Any) -> str | None:
    """ListingsItemSubmissionResponse: ACCEPTED, or INVALID with the issues."""
    status = body.get("status") if isinstance(body, dict) else None
    return {"ACCEPTED": ACCEPTED, "INVALID": REJECTED}.get(str(status))


def _operation_started(body: Any) -> str | None:
    ok = isinstance(body, dict) and all(isinstance(body.get(k), str) and body[k]
                                        for k in ("operationId", "inboundPlanId"))
    return POLLING if ok else None


def _orders(params: dict[str, Any]) -> list[str]:
    return [ORDERS.stream()]


def _listings(params: dict[str, Any]) -> list[str]:
    return [LISTINGS.stream(m) for m in params["marketplaceIds"]]


def _none(params: dict[str, Any]) -> list[str]:
    return []


COMMANDS: dict[str, Command] = {c.name: c for c in (
    Command("confirmShipment", "confirmShipment", _confirm_shipment, _no_body, _orders),
    Command("patchListingsItem", "patchListingsItem", _patch, _submission, _listings),
    Command("deleteListingsItem", "deleteListingsItem", _delete, _submission, _listings),
    Command("createInboundPlan", "createInboundPlan", _inbound, _operation_started, _none),
)}
