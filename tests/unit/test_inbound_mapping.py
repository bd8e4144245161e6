"""The inbound stream without a server: the pure mapping of the model's own examples
(``x-amzn-api-sandbox`` responses of getInboundPlan, getShipment, listShipmentItems), with
the personal data dropped; malformed documents; and the newest-first list ending a window at
the first plan older than its start."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime
from typing import Any

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.spapi_models import load
from worker.sync.endpoint import StreamSpec
from worker.sync.inbound_mapping import map_item, map_plan, map_shipment, shipment_ids
from worker.sync.paging import NewestFirst
from worker.sync.registry import INBOUND
from worker.sync.windows import Window

BASE = "/inbound/fba/2024-03-20/inboundPlans"


def _example(path: str, n: int = 0) -> Any:
    op = load("fulfillmentInbound_2024-03-20")["paths"][BASE + path]["get"]
    return copy.deepcopy(op["responses"]["200"]["x-amzn-api-sandbox"]["static"][n]["response"])


def _plan() -> dict[str, Any]:
    return _example("/{inboundPlanId}")  # type: ignore[no-any-return]


def _shipment() -> dict[str, Any]:
    return _example("/{inboundPlanId}/shipments/{shipmentId}")  # type: ignore[no-any-return]


def _item() -> dict[str, Any]:
    return _example("/{inboundPlanId}/shipments/{shipmentId}/items")["items"][0]  # type: ignore[no-any-return]


def test_a_plan_keeps_its_fields_and_only_city_country_and_postal_code_of_its_address():
    doc = _plan()
    row = map_plan(doc)
    assert (row.inbound_plan_id, row.status, row.name, row.marketplace_ids) == (
        doc["inboundPlanId"], "ACTIVE", doc["name"], ["A2EUQ1WTGCTBG2"])
    assert (row.source_city, row.source_country_code, row.source_postal_code) == (
        "Toronto", "CA", "M1M1M1")
    assert row.created_at == datetime(2024, 3, 20, 12, 1, tzinfo=UTC)
    assert row.last_updated_at == datetime(2024, 3, 28, 13, 15, 30, tzinfo=UTC)
    assert row.raw["sourceAddress"] == {"city": "Toronto", "countryCode": "CA",
                                        "postalCode": "M1M1M1"}
    text = str(row.raw)
    for personal in ("1234567890", "email@email.com", "123 example street"):
        assert personal not in text
    assert shipment_ids(doc) == []


def test_a_list_summary_maps_like_the_plan():
    summary = _example("")["inboundPlans"][1]
    assert map_plan(summary).source_city == "Ann Arbor"


def test_shipment_ids_come_from_the_plans_shipments():
    doc = _plan()
    doc["shipments"] = [{"shipmentId": "sh1", "status": "WORKING"},
                        {"shipmentId": "sh2", "status": "WORKING"}]
    assert shipment_ids(doc) == ["sh1", "sh2"]
    doc["shipments"] = [{"status": "WORKING"}]
    with pytest.raises(MalformedResponseError, match="shipmentId"):
        shipment_ids(doc)


def test_a_shipment_drops_its_contact_and_the_personal_part_of_its_addresses():
    doc = _shipment()
    doc["contactInformation"] = {"name": "Jane Roe", "phoneNumber": "5550100",
                                 "email": "jane@example.com"}
    plan = map_plan(_plan())
    row = map_shipment(plan, doc)
    assert (row.shipment_id, row.inbound_plan_id, row.placement_option_id) == (
        doc["shipmentId"], plan.inbound_plan_id, doc["placementOptionId"])
    assert (row.shipment_confirmation_id, row.amazon_reference_id) == (
        "FBA1234ABCD", "amazonReferenceId")
    assert (row.destination_type, row.warehouse_id) == ("AMAZON_WAREHOUSE", "YYZ5")
    assert row.delivery_window_start == datetime(2024, 1, 1, tzinfo=UTC)
    assert row.delivery_window_end == datetime(2024, 1, 1, 6, tzinfo=UTC)
    assert row.ready_to_ship_start == datetime(2024, 1, 1, tzinfo=UTC)
    assert row.plan_last_updated_at == plan.last_updated_at
    assert row.destination_address is not None
    assert row.destination_address["addressLine1"] == "123 example street"  # a warehouse's
    text = str(row.raw) + str(row.destination_address)
    for personal in ("Jane Roe", "5550100", "1234567890", "email@email.com"):
        assert personal not in text
    assert not set(row.destination_address) & {"name", "phoneNumber", "email"}
    assert row.raw["source"]["address"] == {"city": "Toronto", "countryCode": "CA",
                                            "postalCode": "M1M1M1"}


def test_an_item_maps_every_field():
    row = map_item("wf1", "sh1", _item())
    assert (row.shipment_id, row.msku, row.inbound_plan_id, row.fnsku, row.asin) == (
        "sh1", "msku", "wf1", "fnsku", "asin")
    assert (row.quantity, row.label_owner, row.prep_owner) == (5, "AMAZON", "AMAZON")
    assert (row.expiration, row.manufacturing_lot_code) == (date(2024, 1, 1),
                                                            "manufacturingLotCode")


@pytest.mark.parametrize(("change", "reason"), [
    ({"inboundPlanId": None}, "inboundPlanId"),
    ({"lastUpdatedAt": "yesterday"}, "lastUpdatedAt"),
    ({"marketplaceIds": "A2EUQ1WTGCTBG2"}, "marketplaceIds"),
    ({"sourceAddress": None}, "sourceAddress"),
    ({"shipments": {"shipmentId": "sh1"}}, "shipments"),
])
def test_a_malformed_plan_is_refused_with_its_reason(change: dict[str, Any], reason: str):
    doc = {**_plan(), **change}

    def both() -> None:
        map_plan(doc)
        shipment_ids(doc)

    with pytest.raises(MalformedResponseError, match=reason):
        both()


@pytest.mark.parametrize(("change", "reason"), [
    ({"quantity": -1}, "quantity"),
    ({"quantity": "5"}, "quantity"),
    ({"msku": ""}, "msku"),
    ({"prepInstructions": None}, "prepInstructions"),
    ({"expiration": "01/01/2024"}, "expiration"),
    ({"manufacturingLotCode": "a\x00b"}, "NUL"),
])
def test_a_malformed_item_is_refused_with_its_reason(change: dict[str, Any], reason: str):
    with pytest.raises(MalformedResponseError, match=reason):
        map_item("wf1", "sh1", {**_item(), **change})


def test_a_malformed_shipment_is_refused_with_its_reason():
    plan = map_plan(_plan())
    with pytest.raises(MalformedResponseError, match="placementOptionId"):
        map_shipment(plan, {**_shipment(), "placementOptionId": None})
    with pytest.raises(MalformedResponseError, match=r"selectedDeliveryWindow\.endDate"):
        map_shipment(plan, {**_shipment(), "selectedDeliveryWindow": {"endDate": 3}})


def _page(*stamps: str, token: str | None = "next") -> dict[str, Any]:  # noqa: S107
    body: dict[str, Any] = {"inboundPlans": [{"inboundPlanId": f"wf{n}", "lastUpdatedAt": s}
                                             for n, s in enumerate(stamps)]}
    if token:
        body["pagination"] = {"nextToken": token}
    return body


WINDOW = Window(datetime(2026, 12, 1, 12, tzinfo=UTC), datetime(2026, 12, 2, tzinfo=UTC))


def test_newest_first_stops_at_the_first_plan_older_than_the_window():
    spec = StreamSpec("inbound", INBOUND.endpoint)  # type: ignore[arg-type]
    # newer than the window's end: kept (newer wins); the next page is asked for
    records, token = spec.page(_page("2026-12-02T05:00:00Z", "2026-12-01T12:00:00Z"), WINDOW)
    assert [r["inboundPlanId"] for r in records] == ["wf0", "wf1"] and token == "next"
    # the list went past the window's start: the window's last page, whatever the token says
    records, token = spec.page(_page("2026-12-01T13:00:00Z", "2026-12-01T11:59:59Z",
                                     "2026-12-01T13:30:00Z"), WINDOW)
    assert [r["inboundPlanId"] for r in records] == ["wf0"] and token is None
    records, token = spec.page(_page("2026-11-30T00:00:00Z"), WINDOW)
    assert records == [] and token is None
    records, token = spec.page(_page("2026-12-01T20:00:00Z", token=None), WINDOW)
    assert len(records) == 1 and token is None  # the list's end


def test_newest_first_refuses_a_plan_without_a_time():
    with pytest.raises(MalformedResponseError, match="lastUpdatedAt"):
        NewestFirst(("lastUpdatedAt",)).cut([{"inboundPlanId": "wf0"}], WINDOW.start)


def test_the_list_is_asked_newest_first_without_dates():
    spec = StreamSpec("inbound", INBOUND.endpoint)  # type: ignore[arg-type]
    assert spec.query(WINDOW, None, 30) == {  # type: ignore[arg-type]
        "sortBy": "LAST_UPDATED_TIME", "sortOrder": "DESC", "pageSize": 30}
