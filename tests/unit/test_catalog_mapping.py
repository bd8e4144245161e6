"""Catalog Items 2022-04-01 ``Item`` -> ``catalog_items`` rows (pure)."""

from __future__ import annotations

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.sync.catalog_items import missing, query, rows

US, CA = "ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"


def _item(asin: str = "B000000001", **extra: object) -> dict[str, object]:
    return {"asin": asin,
            "summaries": [{"marketplaceId": CA, "itemName": "other market"},
                          {"marketplaceId": US, "itemName": "Pan", "brand": "Acme",
                           "manufacturer": "Acme Inc",
                           "browseClassification": {"displayName": "Kitchen",
                                                    "classificationId": "1"}}],
            "productTypes": [{"marketplaceId": US, "productType": "POT"}],
            "salesRanks": [{"marketplaceId": US, "classificationRanks": [
                {"classificationId": "1", "title": "Kitchen", "rank": 42}]}], **extra}


def test_the_marketplace_s_entries_become_columns_and_the_rest_stays_in_raw():
    (row,) = rows(None, US, ["B000000001"], [_item()])
    assert (row.found, row.item_name, row.brand, row.manufacturer, row.product_type,
            row.browse_classification, row.sales_rank, row.sales_rank_title) == (
        True, "Pan", "Acme", "Acme Inc", "POT", "Kitchen", 42, "Kitchen")
    assert row.raw["summaries"][0]["marketplaceId"] == CA


def test_asked_and_not_returned_is_not_found_and_unasked_is_ignored():
    got = rows(None, US, ["B000000001", "B000000002"], [_item(), _item("B00000000X")])
    assert [(r.asin, r.found) for r in got] == [("B000000001", True), ("B000000002", False)]
    assert got[1] == missing(US, "B000000002")


@pytest.mark.parametrize("bad", [
    {"asin": None}, {"summaries": {"marketplaceId": US}}, {"summaries": ["x"]},
    {"salesRanks": [{"marketplaceId": US, "classificationRanks": [{"rank": "1"}]}]},
    {"salesRanks": [{"marketplaceId": US, "classificationRanks": [{"rank": 0}]}]},
    {"summaries": [{"marketplaceId": US, "itemName": 5}]},
    {"summaries": [{"marketplaceId": US, "itemName": "a\x00b"}]},  # Postgres holds no NUL
])
def test_a_malformed_item_is_refused_with_a_clear_error(bad):
    doc = {**_item(), **bad}
    with pytest.raises(MalformedResponseError, match="catalog item"):
        rows(None, US, ["B000000001"], [doc])


def test_the_query_asks_for_the_batch_in_one_marketplace():
    q = query(None, US, ["B1", "B2"])  # type: ignore[arg-type]
    assert (q["identifiers"], q["identifiersType"], q["marketplaceIds"]) == ("B1,B2", "ASIN", US)
