"""Mapping Finances documents (2024-06-19 transactions, v0 event groups) to rows: Amazon's
own examples from the models, and malformed documents refused with the typed error."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.sync.finances import map_group, map_transaction

MODELS = Path(__file__).resolve().parents[2] / "worker" / "spapi_models"


def _model(name: str) -> dict[str, Any]:
    return dict(json.loads((MODELS / f"{name}.json").read_text()))


def _transaction_example() -> dict[str, Any]:
    return copy.deepcopy(_model("finances_2024-06-19")["definitions"]["Transaction"]["example"])


def _sandbox_transaction() -> dict[str, Any]:
    op = _model("finances_2024-06-19")["paths"]["/finances/2024-06-19/transactions"]["get"]
    return dict(op["responses"]["200"]["x-amzn-api-sandbox"]["static"][0]["response"]
                ["payload"]["transactions"][0])


def _group_example() -> dict[str, Any]:
    op = _model("financesV0")["paths"]["/finances/v0/financialEventGroups"]["get"]
    return dict(op["responses"]["200"]["x-amzn-api-sandbox"]["static"][0]["response"]
                ["payload"]["FinancialEventGroupList"][0])


def _nodes(trees: Any) -> int:
    """Breakdown nodes in ``trees``, counted recursively (the mapper walks iteratively)."""
    if isinstance(trees, dict):
        trees = trees["breakdowns"]
    return sum(1 + _nodes(t.get("breakdowns") or []) for t in trees)


def test_the_models_transaction_example_maps_every_field_and_node():
    doc = _transaction_example()
    row, breakdowns = map_transaction(doc)
    assert row.transaction_id == doc["transactionId"]
    assert (row.transaction_type, row.transaction_status, row.description) == (
        doc["transactionType"], doc["transactionStatus"], doc["description"])
    assert row.posted_date == datetime(2020, 7, 14, 3, 35, 13, 214000, tzinfo=UTC)
    assert (row.total_amount, row.currency) == (Decimal(str(doc["totalAmount"][
        "currencyAmount"])), doc["totalAmount"]["currencyCode"])
    assert row.marketplace_id == doc["marketplaceDetails"]["marketplaceId"]
    assert row.order_id == doc["relatedIdentifiers"][0]["relatedIdentifierValue"]
    assert row.related == {"ORDER_ID": [row.order_id]} and row.raw == doc
    items = doc["items"]
    expected = _nodes(doc["breakdowns"]) + sum(1 + _nodes(i["breakdowns"]) for i in items)
    assert len(breakdowns) == expected
    keys = [(b.item, b.n) for b in breakdowns]
    assert len(set(keys)) == len(keys)  # the primary key holds
    top = [b for b in breakdowns if b.item == 0]
    assert [b.path for b in top] == ["Sales", "Sales/Product Charges"]
    assert [b.leaf for b in top] == [False, True] and [b.depth for b in top] == [1, 2]
    item = [b for b in breakdowns if b.item == 1]
    context = items[0]["contexts"][0]
    assert item[0].path == "" and item[0].amount == Decimal("10")  # the item's total
    assert {(b.sku, b.asin, b.quantity) for b in item} == {
        (context["sku"], context["asin"], context["quantityShipped"])}
    assert item[-1].path == "Product Charges/Principle" and item[-1].leaf


def test_a_sparse_transaction_maps_with_its_related_identifiers():
    doc = _sandbox_transaction()
    row, breakdowns = map_transaction({**doc, "transactionId": "T1"})
    ids = {r["relatedIdentifierName"]: r["relatedIdentifierValue"]
           for r in doc["relatedIdentifiers"]}
    assert row.financial_event_group_id == ids["FINANCIAL_EVENT_GROUP_ID"]
    assert row.order_id == ids["ORDER_ID"] and row.settlement_id is None
    assert row.transaction_status is None and breakdowns == []


def test_the_models_event_group_example_maps():
    doc = _group_example()
    row = map_group(doc)
    assert row.financial_event_group_id == doc["FinancialEventGroupId"]
    assert (row.processing_status, row.fund_transfer_status) == (
        doc["ProcessingStatus"], doc["FundTransferStatus"])
    assert row.original_total == Decimal(str(doc["OriginalTotal"]["CurrencyAmount"]))
    assert row.beginning_currency == doc["BeginningBalance"]["CurrencyCode"]
    assert row.fund_transfer_date is not None and row.trace_id == doc["TraceId"]


def _deep(levels: int) -> dict[str, Any]:
    node: dict[str, Any] = {"breakdownType": "x", "breakdowns": []}
    for _ in range(levels):
        node = {"breakdownType": "x", "breakdowns": [node]}
    return node


@pytest.mark.parametrize("change", [
    lambda d: d.pop("transactionId"),
    lambda d: d.update(totalAmount={"currencyAmount": "ten", "currencyCode": "USD"}),
    lambda d: d.update(totalAmount={"currencyAmount": True, "currencyCode": "USD"}),
    lambda d: d.update(totalAmount={"currencyAmount": 1e30, "currencyCode": "USD"}),
    lambda d: d.update(postedDate="yesterday"),
    lambda d: d.update(relatedIdentifiers={"ORDER_ID": "1"}),
    lambda d: d.update(items=[["not", "an", "object"]]),
    lambda d: d.update(breakdowns=[_deep(3000)]),
    lambda d: d.update(description="\u0000"),
    lambda d: d["items"][0]["contexts"][0].update(quantityShipped="1"),
], ids=["no-id", "amount-text", "amount-bool", "amount-too-big", "bad-date",
        "related-not-array", "item-not-object", "nested-3000", "nul", "quantity-text"])
def test_malformed_transactions_raise_the_typed_error(change):
    doc = _transaction_example()
    change(doc)
    with pytest.raises(MalformedResponseError):
        map_transaction(doc)


def test_a_malformed_group_raises_the_typed_error():
    with pytest.raises(MalformedResponseError):
        map_group({**_group_example(), "OriginalTotal": {"CurrencyAmount": "x"}})
    with pytest.raises(MalformedResponseError):
        map_group([])
