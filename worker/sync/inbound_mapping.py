"""Fulfillment Inbound 2024-03-20 documents to typed rows (pure): ``InboundPlan``
(``getInboundPlan``; the ``InboundPlanSummary`` of ``listInboundPlans`` maps the same),
``Shipment`` (``getShipment``) and ``Item`` (``listShipmentItems``).

No personal data reaches the mirror: an ``Address`` holds a person's ``name``,
``phoneNumber`` and ``email`` (and the street lines go with them), so a plan's
``sourceAddress`` and a shipment's ``source.address`` keep only ``city``, ``countryCode`` and
``postalCode``, in the columns and in ``raw``; a shipment's ``contactInformation`` (name,
phone, email) is dropped. A shipment's destination is an Amazon warehouse: its address is
kept without ``name``, ``phoneNumber`` and ``email`` (the model's example fills them in).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from worker.db.rows import InboundItemRow, InboundPlanRow, InboundShipmentRow
from worker.sync.fields import (
    bad,
    int_field,
    obj,
    opt_obj,
    opt_str,
    parse_time,
    req_str,
    storable,
)

KEPT_ADDRESS = ("city", "countryCode", "postalCode")  # of a seller's address
CONTACT = ("name", "phoneNumber", "email")  # dropped from a warehouse's address


def plain_address(value: Any, what: str) -> dict[str, Any]:
    """An address without its personal part (name, phone, email, street lines)."""
    address = obj(value, what)
    return {k: address[k] for k in KEPT_ADDRESS if address.get(k) is not None}


def map_plan(doc: Any) -> InboundPlanRow:
    what = "inboundPlan"
    plan = obj(doc, what)
    plan_id = req_str(plan, "inboundPlanId", what)
    markets = plan.get("marketplaceIds")
    if not isinstance(markets, list) or not all(isinstance(m, str) and m for m in markets):
        raise bad(f"{what}.marketplaceIds is not an array of strings")
    source = plain_address(plan.get("sourceAddress"), f"{what}.sourceAddress")
    raw = {**plan, "sourceAddress": source}
    storable(raw, what)
    return InboundPlanRow(
        inbound_plan_id=plan_id, status=req_str(plan, "status", what),
        name=req_str(plan, "name", what), marketplace_ids=list(markets),
        source_city=opt_str(source, "city", what), source_country_code=opt_str(
            source, "countryCode", what), source_postal_code=opt_str(source, "postalCode", what),
        created_at=parse_time(plan.get("createdAt"), f"{what}.createdAt"),
        last_updated_at=parse_time(plan.get("lastUpdatedAt"), f"{what}.lastUpdatedAt"),
        raw=raw)


def shipment_ids(doc: Any) -> list[str]:
    """The ids of an InboundPlan's ``shipments`` (none until placement is confirmed)."""
    found = obj(doc, "inboundPlan").get("shipments")
    if found is None:
        return []
    if not isinstance(found, list):
        raise bad("inboundPlan.shipments is not an array")
    return [req_str(obj(s, "inboundPlan.shipments[]"), "shipmentId", "inboundPlan.shipments[]")
            for s in found]


def map_shipment(plan: InboundPlanRow, doc: Any) -> InboundShipmentRow:
    what = "shipment"
    shipment = obj(doc, what)
    destination = opt_obj(shipment, "destination", what)
    address = destination.get("address")
    raw = {k: v for k, v in shipment.items() if k != "contactInformation"}
    if address is not None:
        address = {k: v for k, v in obj(address, f"{what}.destination.address").items()
                   if k not in CONTACT}
        raw["destination"] = {**destination, "address": address}
    source = opt_obj(shipment, "source", what)
    if source.get("address") is not None:
        raw["source"] = {**source, "address": plain_address(source["address"],
                                                            f"{what}.source.address")}
    storable(raw, what)
    ready = _window(opt_obj(opt_obj(shipment, "dates", what), "readyToShipWindow",
                            f"{what}.dates"), "start", "end", f"{what}.dates.readyToShipWindow")
    delivery = _window(opt_obj(shipment, "selectedDeliveryWindow", what), "startDate",
                       "endDate", f"{what}.selectedDeliveryWindow")
    return InboundShipmentRow(
        shipment_id=req_str(shipment, "shipmentId", what), inbound_plan_id=plan.inbound_plan_id,
        status=opt_str(shipment, "status", what), name=opt_str(shipment, "name", what),
        destination_type=opt_str(destination, "destinationType", f"{what}.destination"),
        warehouse_id=opt_str(destination, "warehouseId", f"{what}.destination"),
        destination_address=address,
        placement_option_id=req_str(shipment, "placementOptionId", what),
        amazon_reference_id=opt_str(shipment, "amazonReferenceId", what),
        shipment_confirmation_id=opt_str(shipment, "shipmentConfirmationId", what),
        ready_to_ship_start=ready[0], ready_to_ship_end=ready[1],
        delivery_window_start=delivery[0], delivery_window_end=delivery[1],
        plan_last_updated_at=plan.last_updated_at, raw=raw)


def _window(doc: dict[str, Any], start: str, end: str,
            what: str) -> tuple[datetime | None, datetime | None]:
    return tuple(  # type: ignore[return-value]
        None if doc.get(k) is None else parse_time(doc[k], f"{what}.{k}") for k in (start, end))


def map_item(plan_id: str, shipment_id: str, doc: Any) -> InboundItemRow:
    what = "shipment.items[]"
    item = obj(doc, what)
    storable(item, what)
    return InboundItemRow(
        shipment_id=shipment_id, msku=req_str(item, "msku", what), inbound_plan_id=plan_id,
        fnsku=req_str(item, "fnsku", what), asin=req_str(item, "asin", what),
        quantity=int_field(item, "quantity", what, required=True) or 0,
        label_owner=req_str(item, "labelOwner", what), prep_owner=_prep_owner(item, what),
        expiration=_date(opt_str(item, "expiration", what), f"{what}.expiration"),
        manufacturing_lot_code=opt_str(item, "manufacturingLotCode", what), raw=item)


def _prep_owner(item: dict[str, Any], what: str) -> str | None:
    instructions = item.get("prepInstructions")
    if not isinstance(instructions, list):
        raise bad(f"{what}.prepInstructions is not an array")
    owners = sorted({owner for p in instructions
                     if (owner := opt_str(obj(p, f"{what}.prepInstructions[]"), "prepOwner",
                                          f"{what}.prepInstructions[]")) is not None})
    return ",".join(owners) or None


def _date(value: str | None, what: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise bad(f"{what} is not a YYYY-MM-DD date") from None
