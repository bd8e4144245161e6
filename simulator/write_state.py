"""What the write operations keep beyond the world: how often each write arrived and was
applied, and the FBA inbound plans with their asynchronous operations.

:class:`WriteLog` is how a test proves "this command reached Amazon once": every write
request that gets past auth, quota and parameter checks counts as *received* under a key
naming what it is about (the order id for confirmShipment, the SKU for the listings
writes, the plan name for createInboundPlan); a write that changed the world also counts
as *applied*. ``/_sim/stats`` reports both under ``writes``.

An inbound plan's operation is IN_PROGRESS for ``INBOUND_SECONDS / time_scale`` after
createInboundPlan, then SUCCESS, or FAILED with the problems found when it was created.
"""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .clock import iso

INBOUND_SECONDS = 10.0  # how long Amazon takes to create an inbound plan (at time_scale 1)


@dataclass
class WriteLog:
    received: dict[str, Counter[str]] = field(default_factory=dict)
    applied: dict[str, Counter[str]] = field(default_factory=dict)

    def receive(self, operation: str, key: str) -> None:
        self.received.setdefault(operation, Counter())[key] += 1

    def apply(self, operation: str, key: str) -> None:
        self.applied.setdefault(operation, Counter())[key] += 1

    def stats(self) -> dict[str, Any]:
        """``{operation: {"received": n, "applied": n, "by_key": {key: {...}}}}``."""
        out: dict[str, Any] = {}
        for operation, received in sorted(self.received.items()):
            applied = self.applied.get(operation, Counter())
            out[operation] = {
                "received": sum(received.values()),
                "applied": sum(applied.values()),
                "by_key": {key: {"received": received[key], "applied": applied[key]}
                           for key in sorted(received)},
            }
        return out


@dataclass
class InboundPlan:
    plan_id: str
    operation_id: str
    seller_id: str
    name: str
    marketplace_id: str
    items: list[dict[str, Any]]
    source_address: dict[str, Any]
    created: float
    ready_at: float
    problems: list[dict[str, str]]  # found at creation; any ERROR fails the operation

    def operation_status(self, now: float) -> str:
        if now < self.ready_at:
            return "IN_PROGRESS"
        return "FAILED" if self.problems else "SUCCESS"

    def status(self, now: float) -> str:
        """InboundPlan.status: ACTIVE once created, ERRORED when creation failed."""
        return "ERRORED" if self.operation_status(now) == "FAILED" else "ACTIVE"

    def truth(self, now: float) -> dict[str, Any]:
        return {
            "inboundPlanId": self.plan_id,
            "operationId": self.operation_id,
            "name": self.name,
            "marketplaceId": self.marketplace_id,
            "status": self.status(now),
            "operationStatus": self.operation_status(now),
            "operationProblems": self.problems if now >= self.ready_at else [],
            "items": self.items,
            "createdAt": iso(self.created),
        }


@dataclass
class InboundBook:
    plans: dict[str, InboundPlan] = field(default_factory=dict)  # by inboundPlanId
    operations: dict[str, str] = field(default_factory=dict)  # operationId -> inboundPlanId
    # The plans each seller had before the simulator started (inbound_plans.existing), by
    # seller id, made on first read.
    existing: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, plan: InboundPlan) -> None:
        self.plans[plan.plan_id] = plan
        self.operations[plan.operation_id] = plan.plan_id

    def by_operation(self, seller_id: str, operation_id: str) -> InboundPlan | None:
        plan = self.plans.get(self.operations.get(operation_id, ""))
        return plan if plan is not None and plan.seller_id == seller_id else None

    def of_seller(self, seller_id: str) -> list[InboundPlan]:
        return [p for p in self.plans.values() if p.seller_id == seller_id]


def new_plan_id() -> str:
    """38 characters of ``[a-zA-Z0-9-]``, as the model's inboundPlanId (``wf`` + a UUID)."""
    return "wf" + str(uuid.uuid4())


def new_operation_id() -> str:
    return str(uuid.uuid4())
