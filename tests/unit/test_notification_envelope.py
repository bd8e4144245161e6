"""Parsing and validating notifications against Amazon's schemas (no services)."""

from __future__ import annotations

import pytest

from tests.notificationkit import inventory_change, listing_change, order_change, report_finished
from worker.notifications.envelope import InvalidNotification, parse


def test_each_type_is_validated_and_routed_by_its_own_casing():
    order = parse(order_change("A1SELLER", "111-2222222-3333333", notification_id="n-1"))
    assert (order.notification_type, order.selling_partner_id, order.notification_id) == (
        "ORDER_CHANGE", "A1SELLER", "n-1")
    assert order.payload["OrderChangeNotification"]["AmazonOrderId"] == "111-2222222-3333333"
    report = parse(report_finished("A1SELLER", "r-9", "doc-9", notification_id="n-2"))
    assert (report.notification_type, report.selling_partner_id, report.notification_id) == (
        "REPORT_PROCESSING_FINISHED", "A1SELLER", "n-2")  # camelCase in its schema
    inv = parse(inventory_change("A1SELLER", "SKU-1", "ATVPDKIKX0DER"))
    assert inv.selling_partner_id == "A1SELLER" and inv.payload["SKU"] == "SKU-1"
    assert order.event_time is not None and order.event_time.tzinfo is not None


def test_listings_notifications_pass_under_both_of_amazons_spellings():
    message = listing_change("A1SELLER", "SKU-2", "ATVPDKIKX0DER")
    for spelling in ("LISTINGS_ITEM_STATUS_CHANGE", "LISTINGS_ITEM_STATUS_CHANGED"):
        message["NotificationType"] = spelling
        assert parse(message).notification_type == "LISTINGS_ITEM_STATUS_CHANGE"


def test_without_a_notification_id_the_body_digest_deduplicates():
    message = inventory_change("A1SELLER", "SKU-1", "ATVPDKIKX0DER")
    del message["NotificationMetadata"]  # optional in the FBA schema
    first, again = parse(message), parse(dict(message))
    assert first.notification_id == again.notification_id
    assert first.notification_id.startswith("sha256:")


@pytest.mark.parametrize(("mutate", "says"), [
    (lambda m: m.pop("NotificationMetadata"), "NotificationMetadata"),
    (lambda m: m["Payload"]["OrderChangeNotification"].pop("AmazonOrderId"), "AmazonOrderId"),
    (lambda m: m.update(NotificationType="ORDER_EXPLODED"), "unknown notification type"),
    (lambda m: m.update(EventTime=42), "EventTime"),
])
def test_a_message_breaking_its_schema_says_where(mutate, says):
    message = order_change("A1SELLER", "111-2222222-3333333")
    mutate(message)
    with pytest.raises(InvalidNotification, match=says):
        parse(message)


def test_not_an_object_is_invalid():
    for value in ([], "ORDER_CHANGE", None, 3):
        with pytest.raises(InvalidNotification):
            parse(value)  # type: ignore[arg-type]
