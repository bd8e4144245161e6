"""The served operations, read from Amazon's models: path, parameters and usage plan.

Nothing here is typed in by hand except *which* operations the simulator serves; the
rate and burst come from the "Usage Plan" table in each operation's description, and
integer ranges/defaults the models only state in prose ("Value must be 1 - 100.
Default 100.") are parsed from that prose.
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
FBA_INVENTORY = "fbaInventoryV1"

# (model, operationId) pairs the simulator answers. Keyed by operationId elsewhere:
# v0 getOrder is not served, so "getOrder" unambiguously means the 2026-01-01 one.
SERVED: tuple[tuple[str, str], ...] = (
    (V0, "getOrders"),
    (V0, "getOrderItems"),
    (V2026, "searchOrders"),
    (V2026, "getOrder"),
    (FBA_INVENTORY, "getInventorySummaries"),
)

_USAGE_ROW = re.compile(r"Usage Plan:.*?\|\s*([0-9.]+)\s*\|\s*([0-9]+)\s*\|", re.S)
_RANGE = re.compile(r"(?:between|must be)\s+(\d+)\s*(?:-|and)\s*(\d+)", re.I)
_DEFAULT = re.compile(r"Default:?\**:?\**\s*(\d+)", re.I)


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
    default: int | None = None


@dataclass(frozen=True)
class Operation:
    model: str
    operation_id: str
    method: str
    path: str
    params: tuple[Param, ...]
    rate: Decimal  # requests per second, as printed in the model
    burst: int
    response: str  # definitions name of the 200 body


def _param(raw: dict[str, Any]) -> Param:
    text = raw.get("description", "")
    ranged = _RANGE.search(text) if raw["type"] == "integer" else None
    default = _DEFAULT.search(text) if raw["type"] == "integer" else None
    items = raw.get("items", {})
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
        default=raw.get("default", int(default.group(1)) if default else None),
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
                rate, burst = usage_plan(raw["description"])
                ref = raw["responses"]["200"]["schema"]["$ref"]
                return Operation(
                    model=model,
                    operation_id=operation_id,
                    method=method.upper(),
                    path=path,
                    params=tuple(_param(p) for p in raw["parameters"]),
                    rate=rate,
                    burst=burst,
                    response=ref.rsplit("/", 1)[-1],
                )
    raise KeyError(f"{operation_id} not found in {model}")


@cache
def served_operations() -> dict[str, Operation]:
    """operationId → Operation for everything the simulator answers."""
    return {op_id: _find(model, op_id) for model, op_id in SERVED}


def definition_enum(model: str, definition: str, prop: str) -> tuple[str, ...]:
    """An enum declared on a definition's property, e.g. v0 Order.OrderStatus."""
    schema = load(model)["definitions"][definition]["properties"][prop]
    return tuple(schema["enum"])
