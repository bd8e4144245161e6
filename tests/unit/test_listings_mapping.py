"""searchListingsItems ``Item`` -> ``listings_items`` row, and the stream's query and pages.

Inputs are written by hand from Amazon's model (listingsItems_2021-08-01.json: ``Item``,
``ItemSummaryByMarketplace``, ``ItemOfferByMarketplace``, ``Issue``, ``FulfillmentAvailability``,
``ItemSearchResults``).
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import structlog

from worker.db.models import ListingsItem
from worker.db.rows import ListingRow
from worker.spapi.errors import InputError, MalformedResponseError
from worker.sync.listings import map_item
from worker.sync.registry import LISTINGS
from worker.sync.windows import Window

US, CA = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"

ITEM = {
    "sku": "GM-ZDPI-9B4E",
    "summaries": [
        {"marketplaceId": CA, "asin": "B071VG5N9D", "productType": "LUGGAGE",
         "conditionType": "new_new", "status": [], "itemName": "Valise rigide",
         "createdDate": "2021-02-02T01:00:00Z", "lastUpdatedDate": "2021-03-05T00:00:00Z"},
        {"marketplaceId": US, "asin": "B071VG5N9D", "productType": "LUGGAGE",
         "conditionType": "new_new", "status": ["BUYABLE", "DISCOVERABLE"],
         "fnSku": "X001ABCDEF", "itemName": "Hardside Carry-On Spinner Suitcase Luggage",
         "createdDate": "2021-02-01T00:00:00Z", "lastUpdatedDate": "2021-03-01T12:30:00+02:00",
         "mainImage": {"link": "https://www.example.com/luggage.png", "height": 500,
                       "width": 500}},
    ],
    "attributes": {"item_name": [{"value": "Hardside Carry-On", "marketplace_id": US}]},
    "issues": [
        {"code": "90220", "message": "'size' is required but not supplied.",
         "severity": "ERROR", "attributeNames": ["size"], "categories": ["MISSING_ATTRIBUTE"],
         "enforcements": {"actions": [{"action": "LISTING_SUPPRESSED"}],
                          "exemption": {"status": "NOT_EXEMPT"}},
         "marketplaceIds": [US]},
        {"code": "18027", "message": "Image is not compliant.", "severity": "WARNING",
         "categories": ["INVALID_IMAGE"]},  # no marketplaceIds: every marketplace
        {"code": "99010", "message": "Only in Canada.", "severity": "ERROR",
         "categories": [], "marketplaceIds": [CA]},
        {"code": "1001", "message": "Info.", "severity": "INFO", "categories": [],
         "marketplaceIds": [CA, US]},
    ],
    "offers": [
        {"marketplaceId": US, "offerType": "B2B",
         "price": {"currencyCode": "USD", "amount": "90.00"}},
        {"marketplaceId": CA, "offerType": "B2C",
         "price": {"currencyCode": "CAD", "amount": "130.00"}},
        {"marketplaceId": US, "offerType": "B2C",
         "price": {"currencyCode": "USD", "amount": "99.99"},
         "audience": {"value": "ALL", "displayName": "All Buyers"}},
    ],
    "fulfillmentAvailability": [
        {"fulfillmentChannelCode": "DEFAULT", "quantity": 7},
        {"fulfillmentChannelCode": "AMAZON_NA", "quantity": 5},
        {"fulfillmentChannelCode": "AMAZON_EU"},
    ],
}


def test_item_maps_the_marketplaces_summary_offer_issues_and_availability():
    row = map_item(US, ITEM)
    assert (row.marketplace_id, row.seller_sku, row.asin, row.product_type, row.item_name,
            row.condition_type, row.fn_sku) == (
        US, "GM-ZDPI-9B4E", "B071VG5N9D", "LUGGAGE",
        "Hardside Carry-On Spinner Suitcase Luggage", "new_new", "X001ABCDEF")
    assert row.status == ["BUYABLE", "DISCOVERABLE"]
    assert (row.price, row.currency) == (Decimal("99.99"), "USD")  # B2C before B2B
    assert row.quantity == 12  # 7 + 5; a channel without a quantity adds nothing
    assert [i["code"] for i in row.issues] == ["90220", "18027", "1001"]
    assert (row.issue_count, row.error_count) == (3, 1)
    assert row.issues[0] == ITEM["issues"][0]  # kept whole, enforcements included
    assert row.created_date == datetime(2021, 2, 1, tzinfo=UTC)
    assert row.last_updated_date == datetime(2021, 3, 1, 10, 30, tzinfo=UTC)
    assert row.source == "api" and row.raw == ITEM


def test_the_other_marketplace_gets_its_own_row_from_the_same_document():
    row = map_item(CA, ITEM)
    assert (row.item_name, row.status, row.fn_sku) == ("Valise rigide", [], None)
    assert (row.price, row.currency) == (Decimal("130.00"), "CAD")
    assert [i["code"] for i in row.issues] == ["18027", "99010", "1001"]
    assert (row.issue_count, row.error_count) == (3, 1)
    assert row.last_updated_date == datetime(2021, 3, 5, tzinfo=UTC)


def test_a_b2b_only_offer_still_gives_a_price():
    doc = {"sku": "B2B-ONLY", "offers": [
        {"marketplaceId": US, "offerType": "B2B",
         "price": {"currencyCode": "USD", "amount": "10.5"}}]}
    assert map_item(US, doc).price == Decimal("10.5")


def test_an_item_with_only_its_sku_is_a_row_of_nulls():
    row = map_item(US, {"sku": "BARE"})
    assert row == ListingRow(
        marketplace_id=US, seller_sku="BARE", asin=None, product_type=None, item_name=None,
        condition_type=None, status=[], fn_sku=None, price=None, currency=None, quantity=None,
        issues=[], issue_count=0, error_count=0, created_date=None, last_updated_date=None,
        raw={"sku": "BARE"})


def test_an_empty_availability_list_is_no_quantity():
    assert map_item(US, {"sku": "S", "fulfillmentAvailability": []}).quantity is None
    zero = [{"fulfillmentChannelCode": "DEFAULT", "quantity": 0}]
    assert map_item(US, {"sku": "S", "fulfillmentAvailability": zero}).quantity == 0


def test_the_row_has_exactly_the_tables_columns_but_the_bookkeeping_ones():
    columns = set(ListingsItem.__table__.columns.keys())
    assert set(ListingRow.__dataclass_fields__) == columns - {
        "seller_id", "sync_version", "synced_at"}


@pytest.mark.parametrize("mutate", [
    lambda d: d.pop("sku"),
    lambda d: d.update(sku=""),
    lambda d: d.update(sku=17),
    lambda d: d.update(summaries={"marketplaceId": US}),
    lambda d: d["summaries"].append("not an object"),
    lambda d: d["summaries"][1].update(status="BUYABLE"),
    lambda d: d["summaries"][1].update(asin=12345),
    lambda d: d["summaries"][1].update(lastUpdatedDate="2021-03-01T00:00:00"),
    lambda d: d["summaries"][1].update(createdDate="yesterday"),
    lambda d: d["offers"][2]["price"].update(amount="ninety"),
    lambda d: d["offers"][2]["price"].pop("currencyCode"),
    lambda d: d["offers"][2].update(price="99.99"),
    lambda d: d["offers"][2].update(offerType=["B2C"]),
    lambda d: d.update(offers={"marketplaceId": US}),
    lambda d: d["fulfillmentAvailability"][0].update(quantity="7"),
    lambda d: d["fulfillmentAvailability"][0].update(quantity=-1),
    lambda d: d.update(fulfillmentAvailability={"quantity": 1}),
    lambda d: d["issues"][0].pop("severity"),
    lambda d: d["issues"][1].update(marketplaceIds=US),
    lambda d: d.update(issues=[["ERROR"]]),
])
def test_malformed_items_raise_the_typed_error(mutate):
    doc = copy.deepcopy(ITEM)
    mutate(doc)
    with pytest.raises(MalformedResponseError) as caught:
        map_item(US, doc)
    assert isinstance(caught.value, InputError)  # not retried: the same page fails again


@pytest.mark.parametrize("doc", [None, "GM-ZDPI-9B4E", ["GM-ZDPI-9B4E"], 3])
def test_a_document_that_is_not_an_object_raises_the_typed_error(doc):
    with pytest.raises(MalformedResponseError):
        map_item(US, doc)


def test_error_messages_name_fields_never_values():
    doc = copy.deepcopy(ITEM)
    doc["offers"][2]["price"]["amount"] = "secret-looking-value"
    with pytest.raises(MalformedResponseError) as caught:
        map_item(US, doc)
    assert "secret-looking-value" not in str(caught.value)
    assert "amount" in str(caught.value)


# --- the stream: query, path and pages ---

class _Seller:
    selling_partner_id = "A3SELLER"


def listings_spec(stream):
    return LISTINGS.spec(stream, "2026-01-01")


def token_param(spec):
    """The query parameter a page's token goes back in."""
    return spec.endpoint.paginator(None).param


def test_one_stream_per_marketplace_first_sync_asks_for_everything_later_ones_a_window():
    stream = LISTINGS.stream(CA)
    assert stream == "listings:" + CA and LISTINGS.marketplace_of(stream) == CA
    spec = listings_spec(stream)
    now = datetime(2026, 11, 20, 10, 0, 5, 900000, tzinfo=UTC)
    first = spec.query(Window(now - timedelta(days=3650), now), _Seller(), 20)
    later = spec.query(Window(now - timedelta(minutes=20), now), _Seller(), 20)
    assert "lastUpdatedAfter" not in first
    assert later["lastUpdatedAfter"] == "2026-11-20T09:40:05Z"
    assert first["lastUpdatedBefore"] == later["lastUpdatedBefore"] == "2026-11-20T10:00:05Z"
    assert later["marketplaceIds"] == [CA]
    assert later["includedData"] == ["summaries", "attributes", "issues", "offers",
                                     "fulfillmentAvailability"]
    assert (later["sortBy"], later["sortOrder"], later["pageSize"]) == (
        "lastUpdatedDate", "ASC", 20)
    assert spec.operation == "searchListingsItems" and token_param(spec) == "pageToken"
    assert spec.path is not None and spec.path(_Seller()) == {"sellerId": "A3SELLER"}


def test_the_query_uses_only_parameters_the_model_declares():
    from worker.spapi.operations import operation
    from worker.spapi_models import load

    op = operation("searchListingsItems")
    model = load(op.model)
    declared = {p["name"]: p for p in model["paths"][op.path]["get"]["parameters"]}
    spec = listings_spec(LISTINGS.stream(US))
    now = datetime.now(UTC)
    query = spec.query(Window(now - timedelta(hours=1), now), _Seller(), 20)
    assert set(query) | {token_param(spec)} <= set(declared)
    assert set(query["includedData"]) <= set(declared["includedData"]["items"]["enum"])
    assert query["pageSize"] <= declared["pageSize"]["maximum"]
    assert declared["sellerId"]["in"] == "path"


def test_a_page_gives_items_and_the_next_token():
    spec = listings_spec(LISTINGS.stream(US))
    body = {"numberOfResults": 45, "pagination": {"nextToken": "abc"}, "items": [ITEM]}
    assert spec.page(body) == ([ITEM], "abc")
    assert spec.page({"numberOfResults": 0, "items": []}) == ([], None)


@pytest.mark.parametrize("body", [
    None, [], {"numberOfResults": 1}, {"numberOfResults": 1, "items": {}},
    {"numberOfResults": "1", "items": []},
    {"numberOfResults": 1, "items": [], "pagination": "abc"},
    {"numberOfResults": 1, "items": [], "pagination": {"nextToken": 5}},
])
def test_a_malformed_page_raises_the_typed_error(body):
    with pytest.raises(MalformedResponseError):
        listings_spec(LISTINGS.stream(US)).page(body)


def test_a_search_beyond_what_amazon_pages_is_logged_on_its_last_page():
    spec = listings_spec(LISTINGS.stream(US))
    with structlog.testing.capture_logs() as logs:
        spec.page({"numberOfResults": 1500, "pagination": {"nextToken": "t"}, "items": []})
        spec.page({"numberOfResults": 1000, "items": []})
        spec.page({"numberOfResults": 1500, "items": []})
    (warning,) = [e for e in logs if e["event"] == "sync.listings_truncated"]
    assert warning["log_level"] == "warning" and warning["number_of_results"] == 1500
    assert "backfill --stream listings" in warning["remedy"]
