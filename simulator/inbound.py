"""Fulfillment Inbound API 2024-03-20: ``createInboundPlan`` and ``getInboundOperationStatus``.

createInboundPlan checks its body against ``CreateInboundPlanRequest``: :mod:`bodies`
checks the structure and :mod:`limits` the lengths, patterns and ranges. The destination
must be one of the seller's marketplaces. Everything else is found the way Amazon finds
it, asynchronously: the call answers 202 with ``inboundPlanId`` and ``operationId`` at once.
The operation is IN_PROGRESS for a while (:mod:`write_state`). It then ends SUCCESS, or
FAILED with ``operationProblems`` when an MSKU is not one of the seller's or, in the US
marketplace, ``labelOwner`` is ``AMAZON`` ("not an accepted value in the US marketplace",
the model says).
"""

from __future__ import annotations

from typing import Any

from . import bodies, limits
from .clock import iso
from .errors import invalid_input, not_found
from .gateway import Call
from .spec import INBOUND
from .state import Simulator
from .world import Seller
from .write_state import INBOUND_SECONDS, InboundPlan, new_operation_id, new_plan_id

OPERATION = "createInboundPlan"
US = "ATVPDKIKX0DER"
UNKNOWN_MSKU, LABEL_OWNER = "FBA_INB_0004", "FBA_INB_0101"  # simulator-defined codes


def create_inbound_plan(call: Call) -> dict[str, Any]:
    body = bodies.parse(INBOUND, call.op.body or "", call.body)
    limits.check(INBOUND, call.op.body or "", body)
    name: str = body.get("name") or f"FBA ({iso(call.now)[:10]})"
    call.sim.writes.receive(OPERATION, name)
    market: str = body["destinationMarketplaces"][0]
    if market not in call.seller.marketplace_ids:
        raise invalid_input(f"The seller does not sell in marketplace '{market}'.")
    delay = INBOUND_SECONDS / call.sim.config.time_scale
    plan = InboundPlan(
        plan_id=new_plan_id(), operation_id=new_operation_id(),
        seller_id=call.seller.seller_id, name=name, marketplace_id=market,
        items=body["items"], source_address=body["sourceAddress"],
        created=call.now, ready_at=call.now + delay,
        problems=_problems(call.seller, market, body["items"]),
    )
    call.sim.inbound.add(plan)
    call.sim.writes.apply(OPERATION, name)
    return {"inboundPlanId": plan.plan_id, "operationId": plan.operation_id}


def _problems(seller: Seller, market: str, items: list[dict[str, Any]]) -> list[dict[str, str]]:
    problems = []
    for item in items:
        msku = item["msku"]
        if msku not in seller.skus:
            problems.append({"code": UNKNOWN_MSKU, "severity": "ERROR",
                             "message": f"The MSKU '{msku}' was not found for this seller."})
        if market == US and item["labelOwner"] == "AMAZON":
            problems.append({"code": LABEL_OWNER, "severity": "ERROR",
                             "message": f"labelOwner AMAZON is not accepted in the US "
                                        f"marketplace (MSKU '{msku}')."})
    return problems


def get_inbound_operation_status(call: Call) -> dict[str, Any]:
    operation_id: str = call.params["operationId"]
    plan = call.sim.inbound.by_operation(call.seller.seller_id, operation_id)
    if plan is None:
        raise not_found(f"Operation '{operation_id}' was not found for this seller.")
    status = plan.operation_status(call.now)
    return {
        "operation": OPERATION,
        "operationId": operation_id,
        "operationProblems": plan.problems if status != "IN_PROGRESS" else [],
        "operationStatus": status,
    }


def truth(sim: Simulator, seller: Seller) -> list[dict[str, Any]]:
    """``/_sim/truth/inbound`` rows: the seller's plans, oldest first."""
    now = sim.clock.now()
    return [plan.truth(now) for plan in sim.inbound.of_seller(seller.seller_id)]
