"""The served operations, read from Amazon's models: path, parameters and usage plan.

Nothing here is typed in by hand except *which* operations the simulator serves; the
rate and burst come from the "Usage Plan" table in each operation's description, and
integer ranges/defaults the models only state in prose ("Value must be 1 - 100.
Default 100.") are parsed from that prose. The success status (200, or 202 for
createReport), the response definition (none for cancelReport) and the body
definition (createReport's ``CreateReportSpecification``) come from the model too, and
so does whether an operation is *grantless* (its description says "is grantless"): such an
operation takes an application token (LWA ``client_credentials`` with the scope of its API,
:data:`GRANTLESS_SCOPES`) instead of a seller's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from typing import Any

from worker.spapi_models import load

V0 = "ordersV0"
V2026 = "orders_2026-01-01"
LISTINGS = "listingsItems_2021-08-01"
REPORTS = "reports_2021-06-30"
FBA_INVENTORY = "fbaInventoryV1"
SELLERS = "sellersV1"
NOTIFICATIONS = "notificationsV1"

# (model, operationId) pairs the simulator answers. Keyed by operationId elsewhere:
# v0 getOrder is not served, so "getOrder" unambiguously means the 2026-01-01 one.
SERVED: tuple[tuple[str, str], ...] = (
    (V0, "getOrders"),
    (V0, "getOrderItems"),
    (V2026, "searchOrders"),
    (V2026, "getOrder"),
    (FBA_INVENTORY, "getInventorySummaries"),
)

# Listings and Reports, kept apart from SERVED so ``served_operations()`` (whose exact
# contents a test pins) is unchanged; ``all_operations()`` is what the app serves.
CATALOG_SERVED: tuple[tuple[str, str], ...] = (
    (LISTINGS, "getListingsItem"),
    (LISTINGS, "searchListingsItems"),
    (REPORTS, "createReport"),
    (REPORTS, "getReports"),
    (REPORTS, "getReport"),
    (REPORTS, "cancelReport"),
    (REPORTS, "getReportDocument"),
)

# The Sellers API, for onboarding: which marketplaces a newly authorized seller sells in.
ACCOUNT_SERVED: tuple[tuple[str, str], ...] = ((SELLERS, "getMarketplaceParticipations"),)

# Write-back (the outbox), answered through ``writes.route`` (which adds the write faults).
INBOUND = "fulfillmentInbound_2024-03-20"
WRITE_SERVED: tuple[tuple[str, str], ...] = (
    (V0, "confirmShipment"),
    (LISTINGS, "patchListingsItem"),
    (LISTINGS, "deleteListingsItem"),
    (INBOUND, "createInboundPlan"),
    (INBOUND, "getInboundOperationStatus"),
)

# Inbound plans, read back: the plans, their shipments and items (the inbound stream).
INBOUND_SERVED: tuple[tuple[str, str], ...] = (
    (INBOUND, "listInboundPlans"),
    (INBOUND, "getInboundPlan"),
    (INBOUND, "getShipment"),
    (INBOUND, "listShipmentItems"),
)

# Notifications: destinations (grantless) and each seller's subscriptions.
NOTIFICATIONS_SERVED: tuple[tuple[str, str], ...] = (
    (NOTIFICATIONS, "getDestinations"),
    (NOTIFICATIONS, "createDestination"),
    (NOTIFICATIONS, "getDestination"),
    (NOTIFICATIONS, "deleteDestination"),
    (NOTIFICATIONS, "createSubscription"),
    (NOTIFICATIONS, "getSubscription"),
    (NOTIFICATIONS, "getSubscriptionById"),
    (NOTIFICATIONS, "deleteSubscriptionById"),
)

# Finances: transactions (2024-06-19), payout groups and financial events (v0), derived from
# the orders.
FINANCES = "finances_2024-06-19"
FINANCES_V0 = "financesV0"
FINANCES_SERVED: tuple[tuple[str, str], ...] = (
    (FINANCES, "listTransactions"),
    (FINANCES_V0, "listFinancialEventGroups"),
    (FINANCES_V0, "listFinancialEvents"),
)

# Catalog Items: identifier searches over the world's catalog (the catalog stream).
CATALOG_ITEMS = "catalogItems_2022-04-01"
PRICING = "productPricing_2022-05-01"
CATALOG_ITEMS_SERVED: tuple[tuple[str, str], ...] = ((CATALOG_ITEMS, "searchCatalogItems"),
                                                     (PRICING, "getCompetitiveSummary"))

# Sales: order metrics per interval, derived from the orders.
SALES = "salesV1"
SALES_SERVED: tuple[tuple[str, str], ...] = ((SALES, "getOrderMetrics"),)

# The LWA scope a grantless operation's token must carry, per model. A model whose
# description calls an operation grantless but is missing here fails loudly in _operation.
GRANTLESS_SCOPES: dict[str, str] = {NOTIFICATIONS: "sellingpartnerapi::notifications"}

# "Usage Plan:" in most models, "Usage plan:" in finances_2024-06-19.
_USAGE_ROW = re.compile(r"Usage Plan:.*?\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|", re.S | re.I)
_RANGE = re.compile(r"(?:between|must be)\s+(\d+)\s*(?:-|and)\s*(\d+)", re.I)
_DEFAULT = re.compile(r"Default:?\**:?\**\s*(\d+)", re.I)
_GRANTLESS = re.compile(r"\bis grantless\b")


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # "query" | "path"
    required: bool
    type: str  # "string" | "integer" | "boolean" | "array"
    format: str | None = None
    items_enum: tuple[str, ...] = ()
    max_items: int | None = None
    minimum: int | None = None
    maximum: int | None = None
    default: int | bool | str | tuple[str, ...] | None = None
    enum: tuple[str, ...] = ()  # allowed values of a scalar string parameter
    pattern: str | None = None  # a string parameter's pattern, minLength and maxLength
    min_length: int | None = None
    max_length: int | None = None


@dataclass(frozen=True)
class Operation:
    model: str
    operation_id: str
    method: str
    path: str
    params: tuple[Param, ...]
    rate: Decimal  # requests per second, as printed in the model
    burst: int
    response: str  # definitions name of the success body ("" when the model has none)
    status: int = 200  # the model's success status
    body: str | None = None  # definitions name of the request body, if any
    grantless_scope: str | None = None  # set for grantless operations: the token's scope

    @property
    def grantless(self) -> bool:
        return self.grantless_scope is not None


def _param(raw: dict[str, Any]) -> Param:
    text = raw.get("description", "")
    ranged = _RANGE.search(text) if raw["type"] == "integer" else None
    default = _DEFAULT.search(text) if raw["type"] == "integer" else None
    items = raw.get("items", {})
    declared = raw.get("default", int(default.group(1)) if default else None)
    return Param(
        name=raw["name"],
        location=raw["in"],
        required=bool(raw.get("required", False)),
        type=raw["type"],
        format=raw.get("format"),
        items_enum=tuple(items.get("enum", ())),
        max_items=raw.get("maxItems"),
        minimum=raw.get("minimum", int(ranged.group(1)) if ranged else None),
        maximum=raw.get("maximum", int(ranged.group(2)) if ranged else None),
        default=tuple(declared) if isinstance(declared, list) else declared,
        enum=tuple(raw.get("enum", ())) if raw["type"] == "string" else (),
        pattern=raw.get("pattern"),
        min_length=raw.get("minLength"),
        max_length=raw.get("maxLength"),
    )


def usage_plan(description: str) -> tuple[Decimal, int]:
    """(rate, burst) from the markdown table every SP-API operation description has."""
    match = _USAGE_ROW.search(description)
    if match is None:
        raise ValueError("no Usage Plan table in the operation description")
    return Decimal(match.group(1)), int(match.group(2))


def _find(model: str, operation_id: str) -> Operation:
    for path, methods in load(model)["paths"].items():
        for method, raw in methods.items():
            if isinstance(raw, dict) and raw.get("operationId") == operation_id:
                return _operation(model, operation_id, method, path, raw)
    raise KeyError(f"{operation_id} not found in {model}")


def _operation(
    model: str, operation_id: str, method: str, path: str, raw: dict[str, Any]
) -> Operation:
    rate, burst = usage_plan(raw["description"])
    status = min(int(code) for code in raw["responses"] if code.startswith("2"))
    ref = raw["responses"][str(status)].get("schema", {}).get("$ref", "")
    bodies = [p for p in raw.get("parameters", []) if p["in"] == "body"]
    scope = None
    if _GRANTLESS.search(raw["description"]):
        if model not in GRANTLESS_SCOPES:
            raise ValueError(f"{operation_id} is grantless, but {model} has no known scope")
        scope = GRANTLESS_SCOPES[model]
    return Operation(
        model=model,
        operation_id=operation_id,
        method=method.upper(),
        path=path,
        params=tuple(_param(p) for p in raw.get("parameters", []) if p["in"] != "body"),
        rate=rate,
        burst=burst,
        response=ref.rsplit("/", 1)[-1],
        status=status,
        body=bodies[0]["schema"]["$ref"].rsplit("/", 1)[-1] if bodies else None,
        grantless_scope=scope,
    )


@cache
def served_operations() -> dict[str, Operation]:
    """operationId → Operation for the Orders operations and getInventorySummaries."""
    return {op_id: _find(model, op_id) for model, op_id in SERVED}


@cache
def all_operations() -> dict[str, Operation]:
    """operationId → Operation for everything the simulator answers."""
    served = (*CATALOG_SERVED, *ACCOUNT_SERVED, *NOTIFICATIONS_SERVED, *WRITE_SERVED,
              *FINANCES_SERVED, *CATALOG_ITEMS_SERVED, *SALES_SERVED, *INBOUND_SERVED)
    more = {op_id: _find(model, op_id) for model, op_id in served}
    return {**served_operations(), **more}


def definition(model: str, name: str) -> dict[str, Any]:
    """A raw ``definitions`` entry of a model."""
    found: dict[str, Any] = load(model)["definitions"][name]
    return found


def definition_enum(model: str, definition: str, prop: str) -> tuple[str, ...]:
    """An enum declared on a definition's property, e.g. v0 Order.OrderStatus."""
    schema = load(model)["definitions"][definition]["properties"][prop]
    return tuple(schema["enum"])
