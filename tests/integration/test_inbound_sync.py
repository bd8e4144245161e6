"""The ``inbound`` stream (Fulfillment Inbound 2024-03-20) against real Postgres, Redis and the
simulator: the mirror equals the simulator's truth (``/_sim/truth/inbound-plans``) after a
first sync and after plans moved on (status, a new shipment, items moved and changed); the
second run reads again only the plans updated since the cursor minus the overlap; a plan
created through the outbox is mirrored; a 403 on the stream disables it alone."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest

from worker.db import state
from worker.sync.registry import INBOUND
from worker.sync.service import run_stream

from .helpers import SimClock, register, table
from .test_outbox import Shop, _plan, _until_settled, listing_skus, shop  # noqa: F401

pytestmark = pytest.mark.integration
DAY = 86400


def _time(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def _truth(sim: Any, spid: str) -> tuple[dict[str, Any], dict[str, Any], dict[Any, Any]]:
    truth = sim.client.truth_inbound_plans(spid)
    plans = {p["inboundPlanId"]: (
        p["status"], p["name"], p["marketplaceIds"], p["sourceAddress"].get("city"),
        p["sourceAddress"].get("countryCode"), p["sourceAddress"].get("postalCode"),
        _time(p["createdAt"]), _time(p["lastUpdatedAt"])) for p in truth["plans"]}
    shipments = {s["shipmentId"]: (
        s["inboundPlanId"], s.get("status"), s["destination"].get("warehouseId"),
        s["placementOptionId"], s.get("shipmentConfirmationId"), s.get("amazonReferenceId"),
        _time(s.get("dates", {}).get("readyToShipWindow", {}).get("start")),
        _time(s.get("selectedDeliveryWindow", {}).get("endDate"))) for s in truth["shipments"]}
    items = {(i["shipmentId"], i["msku"]): (
        i["fnsku"], i["asin"], i["quantity"], i["labelOwner"],
        i["prepInstructions"][0]["prepOwner"]) for i in truth["items"]}
    return plans, shipments, items


def _mirror(rt: Any, seller_id: int) -> tuple[dict[str, Any], dict[str, Any], dict[Any, Any]]:
    plans = {r[0]: tuple(r[1:]) for r in table(
        rt, "SELECT inbound_plan_id, status, name, marketplace_ids, source_city, "
            "source_country_code, source_postal_code, created_at, last_updated_at "
            "FROM inbound_plans WHERE seller_id = :s", s=seller_id)}
    shipments = {r[0]: tuple(r[1:]) for r in table(
        rt, "SELECT shipment_id, inbound_plan_id, status, warehouse_id, placement_option_id, "
            "shipment_confirmation_id, amazon_reference_id, ready_to_ship_start, "
            "delivery_window_end FROM inbound_shipments WHERE seller_id = :s", s=seller_id)}
    items = {(r[0], r[1]): tuple(r[2:]) for r in table(
        rt, "SELECT shipment_id, msku, fnsku, asin, quantity, label_owner, prep_owner "
            "FROM inbound_shipment_items WHERE seller_id = :s", s=seller_id)}
    return plans, shipments, items


def _calls(sim: Any, spid: str, operation: str) -> int:
    return sum(b["calls"] for b in sim.client.stats()["buckets"]
               if b["seller_id"] == spid and b["operation"] == operation)


def _no_personal_data(sim: Any, rt: Any, spid: str, seller_id: int) -> None:
    personal = {v for p in sim.client.truth_inbound_plans(spid)["plans"]
                for k, v in p["sourceAddress"].items()
                if k in ("name", "phoneNumber", "email", "addressLine1")}
    assert personal
    stored = " ".join(r[0] for r in table(
        rt, "SELECT raw::text FROM inbound_plans WHERE seller_id = :s UNION ALL "
            "SELECT raw::text FROM inbound_shipments WHERE seller_id = :s", s=seller_id))
    assert stored and not [v for v in personal if v in stored]
    assert "contactInformation" not in stored and "phoneNumber" not in stored


def test_the_mirror_equals_the_truth_first_and_after_plans_move_on(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=91)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    clock = SimClock(sim)

    assert asyncio.run(run_stream(rt, seller_id, INBOUND.stream(), now=clock.now)).status \
        == "succeeded"
    first = _truth(sim, spid)
    assert len(first[0]) >= 5 and first[1] and first[2]  # history: shipped and active plans
    assert _mirror(rt, seller_id) == first
    assert {p[0] for p in first[0].values()} >= {"ACTIVE", "SHIPPED"}
    _no_personal_data(sim, rt, spid, seller_id)
    with rt.engine.begin() as conn:
        cursor = state.load_checkpoint(conn, seller_id, INBOUND.stream()).cursor
    assert cursor is not None

    clock.advance(DAY + 300)  # the newest plans: placed, labelled and split into two shipments
    read_before = _calls(sim, spid, "getInboundPlan")
    assert asyncio.run(run_stream(rt, seller_id, INBOUND.stream(), now=clock.now)).status \
        == "succeeded"
    second = _truth(sim, spid)
    assert _mirror(rt, seller_id) == second
    moved = {pid for pid in second[0] if second[0][pid] != first[0][pid]}
    assert moved  # statuses moved on
    assert set(second[1]) - set(first[1])  # a new shipment
    gone = set(first[2]) - set(second[2])
    assert gone and all(k[0] in second[1] for k in gone)  # an item left a shipment it was in
    # Only the plans updated since the cursor minus the overlap were read again.
    since = cursor - INBOUND.tuning.overlap
    recent = {pid for pid, p in second[0].items() if p[7] >= since}
    assert moved <= recent
    assert _calls(sim, spid, "getInboundPlan") - read_before == len(recent)


def test_a_plan_created_through_the_outbox_is_mirrored(shop: Shop) -> None:  # noqa: F811
    skus = list(listing_skus(shop))[:2]
    outbox_id = shop.enqueue("createInboundPlan", _plan(shop, skus, "outbox restock"))
    plan_id = _until_settled(shop, outbox_id).response["body"]["inboundPlanId"]
    clock = SimClock(shop.sim)
    clock.advance(2 * 3600)  # its placement is confirmed: a shipment with the plan's items
    assert asyncio.run(run_stream(shop.rt, shop.seller_id, INBOUND.stream(),
                                  now=clock.now)).status == "succeeded"
    plans, shipments, items = _mirror(shop.rt, shop.seller_id)
    assert plans[plan_id][:2] == ("ACTIVE", "outbox restock")
    assert (plans, shipments, items) == _truth(shop.sim, shop.spid)
    mine = [sid for sid, s in shipments.items() if s[0] == plan_id]
    assert len(mine) == 1
    assert {(msku, row[2]) for (sid, msku), row in items.items() if sid == mine[0]} == {
        (sku, 12) for sku in skus}  # the request's MSKUs and quantities
    _no_personal_data(shop.sim, shop.rt, shop.spid, shop.seller_id)


def test_a_refused_inbound_stream_is_disabled_alone(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=93)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    sim.client.fault("listInboundPlans", "unauthorized", seller_id=spid, probability=1)
    assert asyncio.run(run_stream(rt, seller_id, INBOUND.stream())).status == "failed"
    assert asyncio.run(run_stream(rt, seller_id, "orders")).status == "succeeded"
    disabled = dict(table(rt, "SELECT stream, disabled_reason FROM sync_state "
                          "WHERE seller_id = :s AND disabled_reason IS NOT NULL", s=seller_id))
    assert list(disabled) == ["inbound"] and "listInboundPlans" in disabled["inbound"]
    assert table(rt, "SELECT count(*) FROM inbound_plans WHERE seller_id = :s",
                 s=seller_id) == [(0,)]


def test_backfill_reads_the_plans_updated_since_and_stops_there(start_sim, runtime_for):
    from worker.db.sellers import get_seller
    from worker.sync.api_backfill import backfill_api

    sim = start_sim(sellers=1, orders_per_seller=40, time_scale=1000, seed=95)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    with rt.engine.begin() as conn:
        seller = get_seller(conn, seller_id, rt.keyring)
    clock = SimClock(sim)
    until = clock.now()
    since = until - timedelta(days=10)
    done = asyncio.run(backfill_api(rt, seller, INBOUND.stream(), since, until, now=clock.now))
    assert not done.failures and done.fraction == 1
    plans, shipments, items = _truth(sim, spid)
    wanted = {pid for pid, p in plans.items() if p[7] >= since}
    assert wanted and set(plans) - wanted  # some plans were last updated before --since
    mirrored = _mirror(rt, seller_id)
    assert mirrored[0] == {pid: plans[pid] for pid in wanted}
    assert mirrored[1] == {sid: s for sid, s in shipments.items() if s[0] in wanted}
    assert mirrored[2] == {k: i for k, i in items.items() if k[0] in mirrored[1]}
    assert _calls(sim, spid, "getInboundPlan") == len(wanted)
