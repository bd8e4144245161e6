"""getCompetitiveSummary responses -> ``price_snapshots`` rows (pure)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from worker.db.sellers import SellerRecord
from worker.spapi.errors import MalformedResponseError
from worker.sync.prices import body, map_response, rows

US = "ATVPDKIKX0DER"
ME = SellerRecord(1, "A1ME", "NA", [US], "2026-01-01", True, None)


def _offer(seller: str, amount: float) -> dict[str, Any]:
    return {"sellerId": seller, "condition": "New", "fulfillmentType": "MFN",
            "listingPrice": {"amount": amount, "currencyCode": "USD"}}


def _ok(asin: str = "B000000001") -> dict[str, Any]:
    return {"status": {"statusCode": 200}, "body": {
        "asin": asin, "marketplaceId": US,
        "featuredBuyingOptions": [{"buyingOptionType": "Used", "segmentedFeaturedOffers": [
            _offer("A9USED", 1.0)]}, {"buyingOptionType": "New", "segmentedFeaturedOffers": [
                _offer("A1ME", 19.99)]}],
        "lowestPricedOffers": [
            {"lowestPricedOffersInput": {"itemCondition": "Used", "offerType": "Consumer"},
             "offers": [_offer("A9USED", 1.0)]},
            {"lowestPricedOffersInput": {"itemCondition": "New", "offerType": "Consumer"},
             "offers": [_offer("A2", 21.5), _offer("A1ME", 19.99), _offer("A3", 20)]}],
        "referencePrices": [{"name": "WasPrice", "price": {"amount": 30, "currencyCode": "USD"}},
                            {"name": "CompetitivePrice",
                             "price": {"amount": 19.5, "currencyCode": "USD"}}]}}


def test_the_new_featured_offer_the_lowest_new_offer_and_the_competitive_price():
    row = map_response("A1ME", US, _ok())
    assert (row.status_code, row.featured_seller_id, row.featured_is_mine,
            row.featured_price_amount, row.lowest_price_amount, row.lowest_offers,
            row.competitive_price_amount, row.error) == (
        200, "A1ME", True, Decimal("19.99"), Decimal("19.99"), 3, Decimal("19.5"), None)
    assert map_response("A2OTHER", US, _ok()).featured_is_mine is False


def test_a_refused_request_is_a_row_with_its_error():
    row = map_response("A1ME", US, {"status": {"statusCode": 400}, "body": {
        "asin": "X1", "marketplaceId": US,
        "errors": [{"code": "INVALID_ASIN", "message": "X1 is not a valid ASIN"}]}})
    assert (row.asin, row.status_code, row.featured_price_amount) == ("X1", 400, None)
    assert row.error == "INVALID_ASIN: X1 is not a valid ASIN"


def test_only_asked_asins_are_kept_once_each():
    got = rows(ME, US, ["B000000001"], [_ok(), _ok(), _ok("B0OTHER")])
    assert [r.asin for r in got] == ["B000000001"]


@pytest.mark.parametrize("bad", [
    {"status": {"statusCode": "200"}}, {"status": None}, {"body": None},
    {"body": {"marketplaceId": US}},
    {"body": {"asin": "B1", "featuredBuyingOptions": {"x": 1}}},
    {"body": {"asin": "B1", "lowestPricedOffers": [{"lowestPricedOffersInput": {
        "itemCondition": "New", "offerType": "Consumer"}, "offers": [
        {"listingPrice": {"amount": "NaN", "currencyCode": "USD"}}]}]}},
])
def test_a_malformed_response_is_refused_with_a_clear_error(bad):
    with pytest.raises(MalformedResponseError, match="competitive summary"):
        map_response("A1ME", US, {**_ok(), **bad})


def test_the_batch_body_asks_for_each_asin_in_the_marketplace():
    sent = body(ME, US, ["B1", "B2"])
    assert [(r["asin"], r["marketplaceId"], r["method"]) for r in sent["requests"]] == [
        ("B1", US, "GET"), ("B2", US, "GET")]
