"""Fulfillment Inbound API 2024-03-20, the reads: ``listInboundPlans``, ``getInboundPlan``,
``getShipment`` and ``listShipmentItems`` over each seller's inbound plans.

The plans are those created through ``createInboundPlan`` (:mod:`inbound`, visible once
their operation has finished) and a few that each seller had already, drawn from its FBA
stock (:func:`existing`). A plan moves through :data:`STAGES` over simulated time, so its
status, shipments and items change as the clock goes, and ``lastUpdatedAt`` is when it
reached its latest stage:

- placement confirmed (1 h): shipment A holds every item, WORKING;
- labels (1 day): with two items or more, the last item moves to a new shipment B and A's
  first item loses a unit; shipments READY_TO_SHIP with a confirmation id, an Amazon
  reference id and a delivery window;
- shipped (3 days): plan SHIPPED, shipments IN_TRANSIT with tracking; then RECEIVING
  (7 days) and CLOSED (14 days).

A plan whose creation failed is ERRORED and has no shipments. ``listInboundPlans`` sorts by
``sortBy``/``sortOrder`` (the model states no default: LAST_UPDATED_TIME, DESC here) and
pages by offset, so a plan updated during a paged read moves to the front of the list:
pages behind it shift by one (a plan is read twice, never skipped, except the updated plan
itself, whose new ``lastUpdatedAt`` the next read finds).

``/_sim/truth/inbound-plans`` returns the documents as these operations return them now.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from .clock import iso
from .errors import invalid_input, not_found
from .gateway import Call
from .state import Simulator
from .world import Seller
from .write_state import InboundPlan

HOUR, DAY = 3600.0, 86400.0
# (seconds after the plan opened, plan status, shipment status or None: no shipments yet)
STAGES: tuple[tuple[float, str, str | None], ...] = (
    (0.0, "ACTIVE", None),
    (HOUR, "ACTIVE", "WORKING"),
    (DAY, "ACTIVE", "READY_TO_SHIP"),
    (3 * DAY, "SHIPPED", "IN_TRANSIT"),
    (7 * DAY, "SHIPPED", "RECEIVING"),
    (14 * DAY, "SHIPPED", "CLOSED"),
)
LABELLED = 2  # the stage index from which shipments are split and labelled
EXISTING_AGES_DAYS = (40.0, 20.0, 6.0, 2.0, 0.5, 0.02)  # the plans a seller already had
WAREHOUSES = {"NA": ("PHX7", "ONT8", "BNA2"), "EU": ("LEJ1", "MAD4", "BHX4"),
              "FE": ("NRT5", "HND3", "KIX2")}
NS = uuid.UUID("6f1c2d1e-8b5a-4f65-9a51-5d0f7f0c1a11")
MODEL_SORT = ("LAST_UPDATED_TIME", "DESC")


@dataclass(frozen=True)
class Plan:
    """An inbound plan as the reads see it, from whichever way it came."""

    plan_id: str
    seller_id: str
    name: str
    marketplace_id: str
    source_address: dict[str, Any]
    items: tuple[dict[str, Any], ...]  # ItemInput documents
    opened: float  # when the plan became visible (its creation operation finished)
    errored: bool = False

    def stage(self, now: float) -> int:
        if self.errored:
            return 0
        return max(i for i, (after, _, _) in enumerate(STAGES) if self.opened + after <= now)

    def status(self, now: float) -> str:
        return "ERRORED" if self.errored else STAGES[self.stage(now)][1]

    def updated(self, now: float) -> float:
        return self.opened + STAGES[self.stage(now)][0]

    def shipment_ids(self, now: float) -> list[str]:
        """Shipments A (from placement) and B (split off at labelling, two items or more)."""
        stage = self.stage(now)
        if self.errored or STAGES[stage][2] is None:
            return []
        split = stage >= LABELLED and len(self.items) > 1
        return [self._shipment_id(s) for s in ("A", "B")[: 2 if split else 1]]

    def _shipment_id(self, letter: str) -> str:
        return "sh" + str(uuid.uuid5(NS, self.plan_id + letter))

    def items_of(self, shipment_id: str, now: float) -> list[dict[str, Any]]:
        ids = self.shipment_ids(now)
        if shipment_id not in ids:
            return []
        items = [dict(i) for i in self.items]
        if len(ids) == 1:
            return items
        if shipment_id == ids[1]:
            return items[-1:]
        first = items[0]
        first["quantity"] = max(1, int(first["quantity"]) - 1)  # a unit found damaged
        return items[:-1]


def from_outbox(plan: InboundPlan) -> Plan:
    return Plan(plan.plan_id, plan.seller_id, plan.name, plan.marketplace_id,
                plan.source_address, tuple(plan.items), plan.ready_at, bool(plan.problems))


def existing(sim: Simulator, seller: Seller) -> list[Plan]:
    """The plans the seller had before the simulator started: a few, of its FBA SKUs."""
    cached = sim.inbound.existing.get(seller.seller_id)
    if cached is not None:
        return cached
    rng = random.Random(f"{sim.config.seed}:inbound:{seller.seller_id}")
    stocked = sorted({(m, sku) for m, sku in seller.stock})
    plans: list[Plan] = []
    for n, age in enumerate(EXISTING_AGES_DAYS if stocked else ()):
        market = stocked[rng.randrange(len(stocked))][0]
        skus = sorted({sku for m, sku in stocked if m == market})
        chosen = rng.sample(skus, min(len(skus), 1 + rng.randrange(3)))
        items = tuple({"msku": sku, "quantity": 5 + rng.randrange(60), "labelOwner": "SELLER",
                       "prepOwner": rng.choice(("SELLER", "NONE"))} for sku in chosen)
        plan_id = "wf" + str(uuid.UUID(int=rng.getrandbits(128), version=4))
        plans.append(Plan(plan_id, seller.seller_id, f"FBA STA ({n + 1})", market,
                          _address(rng), items, sim.started - age * DAY))
    sim.inbound.existing[seller.seller_id] = plans
    return plans


def _address(rng: random.Random) -> dict[str, Any]:
    """A seller's ship-from address; name, phone and email are the personal part."""
    n = rng.randrange(1000)
    return {"name": f"Warehouse Contact {n}", "addressLine1": f"{100 + n} Main Street",
            "city": "Seattle", "countryCode": "US", "postalCode": f"98{n:03d}",
            "stateOrProvinceCode": "WA", "companyName": "Example Goods LLC",
            "phoneNumber": f"206555{n:04d}", "email": f"ops{n}@example.com"}


def plans_of(sim: Simulator, seller: Seller, now: float) -> list[Plan]:
    made = [from_outbox(p) for p in sim.inbound.of_seller(seller.seller_id) if p.ready_at <= now]
    return [p for p in existing(sim, seller) if p.opened <= now] + made


def _find(sim: Simulator, seller: Seller, plan_id: str, now: float) -> Plan:
    for plan in plans_of(sim, seller, now):
        if plan.plan_id == plan_id:
            return plan
    raise not_found(f"Inbound plan '{plan_id}' was not found for this seller.")


# ---------------------------------------------------------------- documents


def summary(plan: Plan, now: float) -> dict[str, Any]:
    """InboundPlanSummary."""
    return {"inboundPlanId": plan.plan_id, "name": plan.name, "status": plan.status(now),
            "marketplaceIds": [plan.marketplace_id], "sourceAddress": dict(plan.source_address),
            "createdAt": iso(plan.opened), "lastUpdatedAt": iso(plan.updated(now))}


def plan_document(plan: Plan, now: float) -> dict[str, Any]:
    """InboundPlan: the summary, its shipments and its accepted placement option."""
    doc = summary(plan, now)
    ids = plan.shipment_ids(now)
    status = STAGES[plan.stage(now)][2]
    doc["shipments"] = [{"shipmentId": s, "status": status} for s in ids]
    doc["packingOptions"] = []
    doc["placementOptions"] = [{"placementOptionId": _placement(plan), "status": "ACCEPTED",
                                "shipmentIds": ids, "fees": [], "discounts": []}] if ids else []
    return doc


def _placement(plan: Plan) -> str:
    return "pl" + str(uuid.uuid5(NS, plan.plan_id + "placement"))


def shipment_document(sim: Simulator, seller: Seller, plan: Plan, shipment_id: str,
                      now: float) -> dict[str, Any]:
    """Shipment, with what the plan's stage has given it so far."""
    stage = plan.stage(now)
    draw = random.Random(shipment_id)
    warehouses = WAREHOUSES.get(seller.region, WAREHOUSES["NA"])
    doc: dict[str, Any] = {
        "shipmentId": shipment_id, "name": f"{plan.name} {shipment_id[-4:]}",
        "status": STAGES[stage][2], "placementOptionId": _placement(plan),
        "destination": {"destinationType": "AMAZON_WAREHOUSE",
                        "warehouseId": warehouses[draw.randrange(len(warehouses))],
                        "address": {"addressLine1": f"{draw.randrange(9000) + 100} Fulfillment "
                                    "Way", "city": "Phoenix", "countryCode": "US",
                                    "name": "Amazon.com Services LLC",
                                    "postalCode": "85043", "stateOrProvinceCode": "AZ"}},
        "source": {"sourceType": "SELLER_FACILITY", "address": dict(plan.source_address)},
        "contactInformation": {"name": plan.source_address["name"],
                               "phoneNumber": plan.source_address["phoneNumber"],
                               "email": plan.source_address.get("email", "")},
        "dates": {"readyToShipWindow": {"start": iso(plan.opened + DAY),
                                        "end": iso(plan.opened + 2 * DAY)}},
    }
    if stage >= LABELLED:
        doc["shipmentConfirmationId"] = "FBA" + shipment_id[2:10].upper()
        doc["amazonReferenceId"] = shipment_id[-8:].upper()
        doc["selectedDeliveryWindow"] = {
            "availabilityType": "AVAILABLE", "deliveryWindowOptionId": "dw" + shipment_id[2:],
            "startDate": iso(plan.opened + 4 * DAY), "endDate": iso(plan.opened + 6 * DAY)}
    if stage >= LABELLED + 1:
        doc["trackingDetails"] = {"spdTrackingDetail": {"spdTrackingItems": [
            {"boxId": f"{doc['shipmentConfirmationId']}U000001",
             "trackingId": "1Z" + shipment_id[2:14].upper(),
             "trackingNumberValidationStatus": "VALIDATED"}]}}
    return doc


def item_documents(sim: Simulator, seller: Seller, plan: Plan, shipment_id: str,
                   now: float) -> list[dict[str, Any]]:
    """Item: the ItemInput with Amazon's identifiers and prep instructions."""
    out = []
    for item in plan.items_of(shipment_id, now):
        entry = seller.skus.get(item["msku"])
        doc: dict[str, Any] = {
            "msku": item["msku"], "quantity": item["quantity"],
            "asin": entry.asin if entry else "B000000000",
            "fnsku": _fnsku(entry.fnsku if entry else "", item["msku"]),
            "labelOwner": item["labelOwner"],
            "prepInstructions": [{"prepOwner": item.get("prepOwner", "NONE"),
                                  "prepType": "ITEM_LABELING"}]}
        for key in ("expiration", "manufacturingLotCode"):
            if item.get(key) is not None:
                doc[key] = item[key]
        out.append(doc)
    return out


def _fnsku(fnsku: str, sku: str) -> str:
    return fnsku or "X0" + uuid.uuid5(NS, sku).hex[:8].upper()


# ---------------------------------------------------------------- operations


def list_inbound_plans(call: Call) -> dict[str, Any]:
    p = call.params
    signature = {k: v for k, v in p.items() if k != "paginationToken"}
    offset = 0
    if "paginationToken" in p:
        state = call.sim.tokens.decode(p["paginationToken"], call.seller.seller_id,
                                       "listInboundPlans", "paginationToken")
        if state["r"] != signature:
            raise invalid_input("'paginationToken' must be sent with the same arguments as the "
                                "call that returned it.")
        offset = int(state["o"])
    now = call.now
    plans = [summary(plan, now) for plan in plans_of(call.sim, call.seller, now)
             if p.get("status") in (None, plan.status(now))]
    field = "createdAt" if p.get("sortBy") == "CREATION_TIME" else "lastUpdatedAt"
    plans.sort(key=lambda d: (d[field], d["inboundPlanId"]),
               reverse=p.get("sortOrder", MODEL_SORT[1]) == "DESC")
    size = int(p.get("pageSize", 10))
    page = plans[offset:offset + size]
    out: dict[str, Any] = {"inboundPlans": page}
    if offset + size < len(plans):
        out["pagination"] = {"nextToken": call.sim.tokens.encode(
            call.seller.seller_id, "listInboundPlans", {"o": offset + size, "r": signature})}
    return out


def get_inbound_plan(call: Call) -> dict[str, Any]:
    plan = _find(call.sim, call.seller, call.params["inboundPlanId"], call.now)
    return plan_document(plan, call.now)


def _shipment(call: Call) -> tuple[Plan, str]:
    plan = _find(call.sim, call.seller, call.params["inboundPlanId"], call.now)
    shipment_id: str = call.params["shipmentId"]
    if shipment_id not in plan.shipment_ids(call.now):
        raise not_found(f"Shipment '{shipment_id}' was not found in this inbound plan.")
    return plan, shipment_id


def get_shipment(call: Call) -> dict[str, Any]:
    plan, shipment_id = _shipment(call)
    return shipment_document(call.sim, call.seller, plan, shipment_id, call.now)


def list_shipment_items(call: Call) -> dict[str, Any]:
    plan, shipment_id = _shipment(call)
    p = call.params
    offset = 0
    if "paginationToken" in p:
        state = call.sim.tokens.decode(p["paginationToken"], call.seller.seller_id,
                                       "listShipmentItems", "paginationToken")
        if state["s"] != shipment_id:
            raise invalid_input("'paginationToken' was issued for another shipment.")
        offset = int(state["o"])
    items = item_documents(call.sim, call.seller, plan, shipment_id, call.now)
    size = int(p.get("pageSize", 10))
    out: dict[str, Any] = {"items": items[offset:offset + size]}
    if offset + size < len(items):
        out["pagination"] = {"nextToken": call.sim.tokens.encode(
            call.seller.seller_id, "listShipmentItems", {"o": offset + size, "s": shipment_id})}
    return out


def truth(sim: Simulator, seller: Seller) -> dict[str, Any]:
    """Every plan's getInboundPlan document now, its shipments' getShipment documents (with
    ``inboundPlanId``) and their items (with ``shipmentId``)."""
    now = sim.clock.now()
    plans: list[dict[str, Any]] = []
    shipments: list[dict[str, Any]] = []
    items: list[dict[str, Any]] = []
    for plan in plans_of(sim, seller, now):
        plans.append(plan_document(plan, now))
        for sid in plan.shipment_ids(now):
            shipments.append({**shipment_document(sim, seller, plan, sid, now),
                              "inboundPlanId": plan.plan_id})
            items.extend({**i, "shipmentId": sid}
                         for i in item_documents(sim, seller, plan, sid, now))
    return {"plans": plans, "shipments": shipments, "items": items}


def add_routes(app: web.Application, sim: Simulator) -> None:
    async def route(request: web.Request) -> web.Response:
        seller = sim.world.sellers.get(request.query.get("seller_id", ""))
        if seller is None:
            return web.json_response({"error": "unknown seller_id"}, status=400)
        return web.json_response(truth(sim, seller))

    app.router.add_get("/_sim/truth/inbound-plans", route)
