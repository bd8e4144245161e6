"""Writes of the inbound stream: plans (newer wins by ``lastUpdatedAt``), their shipments
(newer wins by the plan's ``lastUpdatedAt``; a shipment the plan no longer lists is deleted)
and each shipment's items, replaced as a whole.

Callers own the transaction (one per page).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection

from worker.db.models import InboundPlan, InboundShipment, InboundShipmentItem
from worker.db.rows import InboundItemRow, InboundPlanRow, InboundShipmentRow, with_seller
from worker.db.upsert import delete_vanished, upsert_newer


def upsert_plans(conn: Connection, seller_id: int, rows: Sequence[InboundPlanRow]) -> set[str]:
    """The ids of the plans written (new or newer)."""
    written = upsert_newer(conn, InboundPlan, [with_seller(r, seller_id) for r in rows],
                           keys=("seller_id", "inbound_plan_id"), updated="last_updated_at")
    return {plan_id for _, plan_id in written}


def upsert_shipments(conn: Connection, seller_id: int,
                     rows: Sequence[InboundShipmentRow]) -> int:
    return len(upsert_newer(conn, InboundShipment, [with_seller(r, seller_id) for r in rows],
                            keys=("seller_id", "shipment_id"), updated="plan_last_updated_at"))


def replace_items(conn: Connection, seller_id: int, shipment_ids: Iterable[str],
                  items: Sequence[InboundItemRow]) -> int:
    """Make the items of ``shipment_ids`` exactly ``items`` (upsert + delete the vanished)."""
    ids = set(shipment_ids)
    if not ids:
        return 0
    mine = [i for i in items if i.shipment_id in ids]
    delete_vanished(conn, InboundShipmentItem, seller_id, "shipment_id", ids, "msku",
                    [(i.shipment_id, i.msku) for i in mine])
    return len(upsert_newer(conn, InboundShipmentItem, [with_seller(i, seller_id) for i in mine],
                            keys=("seller_id", "shipment_id", "msku"), updated=None))


def drop_vanished_shipments(conn: Connection, seller_id: int, plan_ids: Iterable[str],
                            shipments: Sequence[InboundShipmentRow]) -> int:
    """Delete the shipments of ``plan_ids`` that their plan no longer lists (``shipments``:
    the ones it does), with their items; how many shipments went."""
    gone = delete_vanished(conn, InboundShipment, seller_id, "inbound_plan_id", plan_ids,
                           "shipment_id", [(s.inbound_plan_id, s.shipment_id) for s in shipments])
    delete_vanished(conn, InboundShipmentItem, seller_id, "shipment_id",
                    [shipment for _, shipment in gone], "msku", [])
    return len(gone)
