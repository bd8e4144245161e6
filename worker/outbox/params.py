"""The ``params`` of each outbox command, checked before anything is sent.

Each command's ``params`` is the request Amazon's model describes, plus the ids the
request puts in its path or query:

===================  ======================================================================
command              params
===================  ======================================================================
confirmShipment      ``ConfirmShipmentRequest`` (ordersV0: ``marketplaceId``,
                     ``packageDetail``, optional ``codCollectionMethod``) plus ``orderId``
patchListingsItem    ``ListingsItemPatchRequest`` (``productType``, ``patches``) plus ``sku``
                     and ``marketplaceIds``
deleteListingsItem   ``sku`` and ``marketplaceIds`` (exactly one, the model's ``maxItems``)
createInboundPlan    ``CreateInboundPlanRequest`` (fulfillmentInbound 2024-03-20) as it is
===================  ======================================================================

Everything the models declare is checked with jsonschema against the model definitions.
Two limits the models imply are made explicit: an ``integer`` without a ``format`` is a
32-bit integer (what Amazon's generated clients send), and a ``sku`` is at most as long
as the merchant SKU the inbound model bounds (``ItemInput.msku``, 255 characters; the
listings model leaves its path parameter unbounded). The whole ``params`` document obeys
:data:`worker.db.jsonlimits.OUTBOX_PARAMS` (depth and size), as Postgres enforces where
rows enter. Unknown top-level keys are refused, because a misspelt key would otherwise be
dropped without a word. A few rules the models state only in prose are checked by hand: an order
id in 3-7-7 form; a positive numeric ``packageReferenceId``; ``carrierName`` when
``carrierCode`` is ``Other``; an ISO 8601 ``shipDate``; at least one order item, each with
a positive quantity; patches on top-level attributes only, with a ``value`` unless the op
is ``delete``. The seller must also sell in every marketplace named. A message names the
field and the rule it breaks, never the value: an inbound plan's address is personal data.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import cache
from typing import Any

from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError

from worker.db.jsonlimits import OUTBOX_PARAMS, problem
from worker.spapi.errors import InputError
from worker.spapi_models import load

ORDERS_V0, LISTINGS = "ordersV0", "listingsItems_2021-08-01"
INBOUND = "fulfillmentInbound_2024-03-20"
ORDER_ID = r"^[0-9]{3}-[0-9]{7}-[0-9]{7}$"
POSITIVE_NUMBER = re.compile(r"^[1-9][0-9]*$")
TOP_LEVEL_ATTRIBUTE = re.compile(r"^/attributes/[A-Za-z0-9_]+$")
_MARKETPLACES = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
INT32_MAX, INT64_MAX = 2**31 - 1, 2**63 - 1


class InvalidParams(InputError, ValueError):
    """``params`` that must not be sent; the message says which field and why."""


def check(command: str, params: Any, marketplace_ids: Iterable[str]) -> None:
    """Raise :class:`InvalidParams` unless ``params`` is a valid ``command`` for a seller
    selling in ``marketplace_ids``."""
    if command not in _EXTRA:
        raise InvalidParams(f"unknown command {command!r}")
    too_big = problem(params, OUTBOX_PARAMS)  # before jsonschema walks it recursively
    if too_big is not None:
        raise InvalidParams(f"params: {too_big}")
    error = _first_error(_validator(command), params)
    if error is not None:
        raise InvalidParams(_describe(error))
    _EXTRA[command](params)
    known = set(marketplace_ids)
    for market in _marketplaces(command, params):
        if market not in known:
            raise InvalidParams(f"params: the seller does not sell in marketplace {market!r}")


def _marketplaces(command: str, params: dict[str, Any]) -> list[str]:
    if command == "confirmShipment":
        return [params["marketplaceId"]]
    if command == "createInboundPlan":
        return list(params["destinationMarketplaces"])
    return list(params["marketplaceIds"])


@cache
def _validator(command: str) -> Draft4Validator:
    model, schema = _SCHEMAS[command]()
    schema["definitions"] = copy.deepcopy(load(model)["definitions"])
    _bound_integers(schema)
    return Draft4Validator(schema)


def _bound_integers(node: Any) -> None:
    """Give every ``integer`` the range of its format (int64, else int32), unless the
    model sets one: Amazon parses it into that type, so more cannot be sent."""
    if isinstance(node, dict):
        if node.get("type") == "integer":
            top = INT64_MAX if node.get("format") == "int64" else INT32_MAX
            node.setdefault("maximum", top)
            node.setdefault("minimum", -top - 1)
        for value in node.values():
            _bound_integers(value)
    elif isinstance(node, list):
        for value in node:
            _bound_integers(value)


def _sku() -> dict[str, Any]:
    msku = load(INBOUND)["definitions"]["ItemInput"]["properties"]["msku"]
    return {"type": "string", "minLength": 1, "maxLength": msku["maxLength"]}


def _request(model: str, name: str, **extra: dict[str, Any]) -> dict[str, Any]:
    """A model's request definition, closed to unknown keys, with path/query ids added."""
    schema: dict[str, Any] = copy.deepcopy(load(model)["definitions"][name])
    schema["properties"].update(extra)
    schema["required"] = [*schema.get("required", ()), *extra]
    schema["additionalProperties"] = False
    return schema


def _confirm_shipment() -> tuple[str, dict[str, Any]]:
    return ORDERS_V0, _request(ORDERS_V0, "ConfirmShipmentRequest",
                               orderId={"type": "string", "pattern": ORDER_ID})


def _patch() -> tuple[str, dict[str, Any]]:
    return LISTINGS, _request(LISTINGS, "ListingsItemPatchRequest", sku=_sku(),
                              marketplaceIds=_MARKETPLACES)


def _delete() -> tuple[str, dict[str, Any]]:
    return LISTINGS, {
        "type": "object", "additionalProperties": False, "required": ["sku", "marketplaceIds"],
        "properties": {"sku": _sku(), "marketplaceIds": {**_MARKETPLACES, "maxItems": 1}},
    }


def _inbound() -> tuple[str, dict[str, Any]]:
    return INBOUND, _request(INBOUND, "CreateInboundPlanRequest")


_SCHEMAS: dict[str, Callable[[], tuple[str, dict[str, Any]]]] = {
    "confirmShipment": _confirm_shipment,
    "patchListingsItem": _patch,
    "deleteListingsItem": _delete,
    "createInboundPlan": _inbound,
}


def _first_error(validator: Draft4Validator, params: Any) -> ValidationError | None:
    errors = sorted(validator.iter_errors(params), key=lambda e: [str(p) for p in e.path])
    return errors[0] if errors else None


def _describe(error: ValidationError) -> str:
    where = _where(error.absolute_path)
    rule, limit = error.validator, error.validator_value
    if rule == "required":
        missing = next((k for k in limit if not isinstance(error.instance, dict)
                        or k not in error.instance), "?")
        return f"{where}: missing required field {missing!r}"
    if rule == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return f"{where}: unknown field(s) {', '.join(map(repr, extra))}"
    if rule == "type":
        return f"{where}: must be of type {limit}"
    if rule == "enum":
        return f"{where}: must be one of {', '.join(map(str, limit))}"
    return f"{where}: breaks {rule} {limit}"


def _where(path: Iterable[Any]) -> str:
    return "params" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)


def _check_shipment(params: dict[str, Any]) -> None:
    package = params["packageDetail"]
    if not POSITIVE_NUMBER.match(package["packageReferenceId"]):
        raise InvalidParams("params.packageDetail.packageReferenceId: must be a positive "
                            "number (the model: 'only positive numeric values')")
    if package["carrierCode"] == "Other" and not package.get("carrierName"):
        raise InvalidParams("params.packageDetail.carrierName: required when carrierCode is "
                            "'Other'")
    if not package["trackingNumber"].strip():
        raise InvalidParams("params.packageDetail.trackingNumber: must not be empty")
    try:
        shipped = datetime.fromisoformat(package["shipDate"].replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParams("params.packageDetail.shipDate: must be an ISO 8601 date-time"
                            ) from None
    if shipped.tzinfo is None:
        raise InvalidParams("params.packageDetail.shipDate: needs a UTC offset (e.g. Z)")
    if not package["orderItems"]:
        raise InvalidParams("params.packageDetail.orderItems: must name at least one item")
    for index, item in enumerate(package["orderItems"]):
        if item["quantity"] < 1:
            raise InvalidParams(f"params.packageDetail.orderItems[{index}].quantity: must be "
                                "at least 1")


def _check_patch(params: dict[str, Any]) -> None:
    for index, patch in enumerate(params["patches"]):
        if not TOP_LEVEL_ATTRIBUTE.match(patch["path"]):
            raise InvalidParams(f"params.patches[{index}].path: must be /attributes/<name> "
                                "(only top-level attributes can be patched)")
        if patch["op"] != "delete" and "value" not in patch:
            raise InvalidParams(f"params.patches[{index}].value: required for op "
                                f"{patch['op']!r}")


def _no_more(params: dict[str, Any]) -> None:
    return None


_EXTRA: dict[str, Callable[[dict[str, Any]], None]] = {
    "confirmShipment": _check_shipment,
    "patchListingsItem": _check_patch,
    "deleteListingsItem": _no_more,
    "createInboundPlan": _no_more,
}
