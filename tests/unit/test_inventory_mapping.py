from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.sync.inventory import map_summary
from worker.sync.registry import INVENTORY
from worker.sync.windows import Window

SUMMARY = {
    "asin": "B0ABCDEFGH", "fnSku": "X00ABCDEFG", "sellerSku": "SKU-1", "condition": "NewItem",
    "productName": "Widget", "totalQuantity": 31, "lastUpdatedTime": "2026-11-20T08:00:00Z",
    "inventoryDetails": {
        "fulfillableQuantity": 20, "inboundWorkingQuantity": 1, "inboundShippedQuantity": 2,
        "inboundReceivingQuantity": 3,
        "reservedQuantity": {"totalReservedQuantity": 4, "pendingCustomerOrderQuantity": 4},
        "researchingQuantity": {"totalResearchingQuantity": 0},
        "unfulfillableQuantity": {"totalUnfulfillableQuantity": 1, "customerDamagedQuantity": 1},
    },
}


def test_summary_maps_every_inventory_bucket():
    row = map_summary("ATVPDKIKX0DER", SUMMARY)
    assert (row.marketplace_id, row.seller_sku, row.fn_sku, row.asin) == (
        "ATVPDKIKX0DER", "SKU-1", "X00ABCDEFG", "B0ABCDEFGH")
    assert (row.fulfillable_quantity, row.inbound_working_quantity,
            row.inbound_shipped_quantity, row.inbound_receiving_quantity,
            row.reserved_quantity, row.unfulfillable_quantity, row.researching_quantity,
            row.total_quantity) == (20, 1, 2, 3, 4, 1, 0, 31)
    assert row.last_updated_time == datetime(2026, 11, 20, 8, tzinfo=UTC)


def test_summary_without_details_or_time_keeps_nulls():
    doc = {"sellerSku": "SKU-2", "totalQuantity": 0, "lastUpdatedTime": ""}
    row = map_summary("A1PA6795UKMFR9", doc)
    assert row.fulfillable_quantity is None and row.last_updated_time is None


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("sellerSku"),
    lambda d: d["inventoryDetails"].update(fulfillableQuantity="20"),
    lambda d: d["inventoryDetails"].update(reservedQuantity=4),
    lambda d: d.update(lastUpdatedTime="2026-11-20T08:00:00"),
    lambda d: d.update(totalQuantity=-1),
])
def test_malformed_summaries_raise_the_typed_error(mutate):
    doc = copy.deepcopy(SUMMARY)
    mutate(doc)
    with pytest.raises(MalformedResponseError):
        map_summary("ATVPDKIKX0DER", doc)


def test_one_stream_per_marketplace_and_first_sync_lists_everything():
    stream = INVENTORY.stream("A1PA6795UKMFR9")
    assert INVENTORY.marketplace_of(stream) == "A1PA6795UKMFR9"
    spec = INVENTORY.spec(stream, "2026-01-01")
    now = datetime.now(UTC)
    first = spec.query(Window(now - timedelta(days=3650), now), None, 50)
    later = spec.query(Window(now - timedelta(hours=1), now), None, 50)
    assert "startDateTime" not in first and later["startDateTime"].endswith("Z")
    assert first["granularityId"] == "A1PA6795UKMFR9" and first["details"] is True
