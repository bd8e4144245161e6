"""Pure report mapping: flat-file rows -> typed rows, and backfill planning."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from worker.db.sellers import SellerRecord
from worker.spapi.errors import MalformedResponseError
from worker.sync import backfill
from worker.sync.report_types import (
    FBA_MYI,
    ORDERS_BY_UPDATE,
    map_listing_row,
    map_myi_row,
    map_order_rows,
    report_time,
    sales_and_traffic_rows,
)


def order_row(**over: str) -> dict[str, str]:
    row = {
        "amazon-order-id": "111-0000001-0000001", "purchase-date": "2026-03-01T10:00:00+00:00",
        "last-updated-date": "2026-03-02T08:30:00-08:00", "order-status": "Shipped",
        "fulfillment-channel": "Amazon", "sales-channel": "Amazon.de", "sku": "SKU-A",
        "asin": "B000000001", "product-name": "Mug", "item-status": "Shipped", "quantity": "2",
        "currency": "EUR", "item-price": "20.00", "item-tax": "3.80", "shipping-price": "4.99",
        "shipping-tax": "0.00", "gift-wrap-price": "", "gift-wrap-tax": "",
        "item-promotion-discount": "1.00", "ship-promotion-discount": "4.99",
    }
    row.update(over)
    return row


def test_an_orders_rows_become_one_order_with_its_items():
    rows = [order_row(), order_row(sku="SKU-B", quantity="1", **{"item-price": "5.00",
                                                                  "item-status": "Unshipped"}),
            order_row(quantity="3")]  # the same SKU twice in one order
    order, items = map_order_rows(ORDERS_BY_UPDATE, rows)
    assert order.amazon_order_id == "111-0000001-0000001"
    assert order.order_status == "SHIPPED" and order.source == "report"
    assert order.last_update_date == datetime(2026, 3, 2, 16, 30, tzinfo=UTC)
    assert order.marketplace_id == "A1PA6795UKMFR9" and order.fulfillment_channel == "AFN"
    # each row: price + tax + shipping + shipping tax - promotions
    assert order.order_total == Decimal("22.80") + Decimal("7.80") + Decimal("22.80")
    assert [(i.order_item_id, i.quantity_ordered, i.quantity_shipped) for i in items] == [
        ("report:SKU-A", 2, 2), ("report:SKU-B", 1, None), ("report:SKU-A#2", 3, 3)]


def test_an_unpriced_pending_order_has_no_total():
    order, items = map_order_rows(ORDERS_BY_UPDATE, [order_row(**{
        "order-status": "Pending", "item-price": "", "currency": "", "item-tax": ""})])
    assert order.order_status == "PENDING" and order.order_total is None
    assert items[0].item_price is None and order.currency is None


@pytest.mark.parametrize("bad", [
    {"quantity": "two"}, {"quantity": ""}, {"last-updated-date": "yesterday"},
    {"item-price": "12,50"}, {"amazon-order-id": ""}, {"purchase-date": "2026-03-01"},
])
def test_a_bad_cell_is_a_typed_error_naming_the_field_not_the_value(bad):
    with pytest.raises(MalformedResponseError) as caught:
        map_order_rows(ORDERS_BY_UPDATE, [order_row(**bad)])
    (key,) = bad
    assert key in str(caught.value) or "order row" in str(caught.value)
    for value in bad.values():
        if value:
            assert value not in str(caught.value)


def test_listing_and_inventory_rows():
    listing = map_listing_row("ATVPDKIKX0DER", "USD", {
        "seller-sku": "SKU-9", "asin1": "B000000009", "item-name": "Lamp", "price": "19.99",
        "quantity": "", "open-date": "2024-03-01 10:00:00 PST", "status": "Active"})
    assert listing["status"] == ["BUYABLE", "DISCOVERABLE"] and listing["quantity"] is None
    assert listing["price"] == Decimal("19.99") and listing["currency"] == "USD"
    assert listing["created_date"] == datetime(2024, 3, 1, 18, 0, tzinfo=UTC)
    assert listing["last_updated_date"] is None and listing["source"] == "report"
    inactive = map_listing_row("ATVPDKIKX0DER", "USD", {"seller-sku": "S", "status": "Inactive"})
    assert inactive["status"] == [] and inactive["price"] is None

    row = map_myi_row("ATVPDKIKX0DER", {
        "sku": "SKU-9", "fnsku": "X00000009", "afn-fulfillable-quantity": "7",
        "afn-unsellable-quantity": "1", "afn-reserved-quantity": "2",
        "afn-inbound-working-quantity": "0", "afn-inbound-shipped-quantity": "5",
        "afn-inbound-receiving-quantity": "", "afn-total-quantity": "15"})
    assert (row.fulfillable_quantity, row.unfulfillable_quantity, row.reserved_quantity,
            row.inbound_shipped_quantity, row.inbound_receiving_quantity,
            row.total_quantity) == (7, 1, 2, 5, None, 15)
    assert row.raw == {"reportType": FBA_MYI, "row": row.raw["row"]}
    with pytest.raises(MalformedResponseError):
        map_myi_row("ATVPDKIKX0DER", {"sku": "S", "afn-fulfillable-quantity": "-1"})


def test_report_times_with_zone_abbreviations_and_iso():
    assert report_time("2024-07-01 10:00:00 PDT", "t") == datetime(2024, 7, 1, 17, tzinfo=UTC)
    assert report_time("2024-07-01T10:00:00+09:00", "t") == datetime(2024, 7, 1, 1, tzinfo=UTC)
    assert report_time("", "t") is None
    with pytest.raises(MalformedResponseError):
        report_time("2024-07-01 10:00:00 XYZT", "t")


def test_sales_and_traffic_rows_are_keyed_by_date_and_asin():
    rows = sales_and_traffic_rows({
        "salesAndTrafficByDate": [{"date": "2026-11-01", "salesByDate": {"unitsOrdered": 3}}],
        "salesAndTrafficByAsin": [{"parentAsin": "B0P", "childAsin": "B0C"},
                                  {"parentAsin": "B0Q"}, "junk"],
    })
    assert [(r["line"], r["record_key"], r["error"] is None) for r in rows] == [
        (1, "date:2026-11-01", True), (2, "asin:B0C", True), (3, "asin:B0Q", True),
        (4, None, False)]
    with pytest.raises(MalformedResponseError):
        sales_and_traffic_rows([])


SELLER = SellerRecord(id=1, selling_partner_id="A1", region="NA",
                      marketplace_ids=["ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"],
                      orders_api_version="2026-01-01", enabled=True, disabled_reason=None)


def test_backfill_windows_are_aligned_on_since_and_cover_everything():
    since = datetime(2024, 1, 1, tzinfo=UTC)
    until = since + timedelta(days=95, hours=3)
    now = until + timedelta(days=30)
    reqs = backfill.plan_requests(SELLER, "orders", since, until, now)
    assert [(r.start, r.end) for r in reqs] == [
        (since + timedelta(days=d), since + timedelta(days=d + 30)) for d in (0, 30, 60)
    ] + [(since + timedelta(days=90), until)]
    assert all(r.marketplace_ids == ("ATVPDKIKX0DER", "A2EUQ1WTGCTBG2") for r in reqs)
    later = backfill.plan_requests(SELLER, "orders", since, until + timedelta(days=1), now)
    assert later[:3] == reqs[:3]  # a re-run asks for the same windows (so they are reused)
    snapshots = backfill.plan_requests(SELLER, "inventory", None, until)
    assert [r.marketplace_ids for r in snapshots] == [("ATVPDKIKX0DER",), ("A2EUQ1WTGCTBG2",)]


@pytest.mark.parametrize(("stream", "since", "message"), [
    ("orders", None, "--since is required"),
    ("orders", datetime(2030, 1, 1, tzinfo=UTC), "before --until"),
    ("payments", None, "unknown stream"),
])
def test_backfill_refuses_bad_arguments(stream, since, message):
    with pytest.raises(backfill.BackfillError, match=message):
        backfill.plan_requests(SELLER, stream, since, datetime(2026, 1, 1, tzinfo=UTC))


NOW = datetime(2026, 6, 15, 13, 30, tzinfo=UTC)


@pytest.mark.parametrize(("stream", "markets", "first"), [
    ("orders", ("ATVPDKIKX0DER",), datetime(2024, 6, 16, tzinfo=UTC)),  # two years
    ("sales-traffic", ("ATVPDKIKX0DER",), datetime(2024, 6, 16, tzinfo=UTC)),
    ("orders", ("A1VC38T7YXB528", "A39IBJ37TRP1C6"), datetime(2016, 1, 1, tzinfo=UTC)),  # JP, AU
    ("orders", ("A1VC38T7YXB528", "A1F83G8C2ARO7P"), datetime(2024, 6, 16, tzinfo=UTC)),  # + UK
    ("sales-traffic", ("A1VC38T7YXB528",), datetime(2024, 6, 16, tzinfo=UTC)),
])
def test_backfill_reaches_back_as_far_as_amazon_keeps_the_data(stream, markets, first):
    seller = dataclasses.replace(SELLER, marketplace_ids=list(markets))
    until = NOW - timedelta(days=1)
    assert backfill.plan_requests(seller, stream, first, until, NOW)  # the first day: fine
    with pytest.raises(backfill.BackfillError) as refused:
        backfill.plan_requests(seller, stream, first - timedelta(hours=1), until, NOW)
    assert str(refused.value).endswith(f"use --since {first.date().isoformat()} or later")
    with pytest.raises(backfill.BackfillError):  # 24,666 windows were planned for this
        backfill.plan_requests(seller, stream, datetime(1, 1, 1, tzinfo=UTC), until, NOW)


def test_progress_line_says_reports_rows_and_eta():
    p = backfill.Progress("A1", "orders", total=4, done=2, rows=1234, written=1000, rejected=3)
    p.started -= 60  # one minute for two reports: one more minute for the other two
    line = backfill.describe(p)
    assert line.startswith("A1 orders: 2/4 reports, 1,234 rows (1,000 written, 3 rejected)")
    assert line.endswith("ETA 1m00s") or line.endswith("ETA 0m59s")
