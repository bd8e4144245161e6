"""Regressions of what tests/chaos/test_fuzz.py found: each test holds the minimal input that
escaped as an untyped exception (or mapped into a row Postgres would refuse) and the typed
answer it gets now. No services."""

from __future__ import annotations

import asyncio
import copy
import gzip
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from click.testing import CliRunner

import worker.cli as cli
from tests.logkit import restored_logging
from tests.notificationkit import inventory_change, listing_change, order_change
from worker.crypto import new_key_spec
from worker.notifications.envelope import InvalidNotification, parse
from worker.spapi.errors import MalformedResponseError
from worker.sync import report_parse
from worker.sync.inventory import map_summary
from worker.sync.listings import map_item
from worker.sync.orders_mapping import map_item_2026, map_item_v0, map_order_2026, map_order_v0
from worker.sync.report_parse import ParsedRow, table_rows
from worker.sync.report_types import (
    ORDERS_BY_UPDATE,
    json_rows,
    map_listing_row,
    map_myi_row,
    map_order_rows,
    report_time,
    sales_and_traffic_rows,
)

ORDER = "111-0000000-0000001"
MARKET = "ATVPDKIKX0DER"
ORDER_2026 = {
    "orderId": ORDER, "createdTime": "2026-11-01T10:30:00Z",
    "lastUpdatedTime": "2026-11-02T14:45:00Z",
    "salesChannel": {"channelName": "AMAZON", "marketplaceId": MARKET},
    "fulfillment": {"fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT"},
    "orderItems": [{"orderItemId": "1", "quantityOrdered": 3, "product": {
        "sellerSku": "SKU-1", "price": {"unitPrice": {"amount": "19.99", "currencyCode": "USD"}}}}],
}


def with_(doc: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``doc`` with ``value`` at ``a/b/0/c``."""
    doc = copy.deepcopy(doc)
    *parents, last = path.split("/")
    node: Any = doc
    for step in parents:
        node = node[int(step)] if isinstance(node, list) else node[step]
    node[last] = value
    return doc


# ---------------------------------------------------------------- values Postgres refuses
# Before: these mapped, and the page's write then failed with psycopg's DataError ("text
# fields cannot contain NUL", "unsupported Unicode escape sequence", "integer out of range",
# "numeric field overflow") instead of the typed error naming the field.


@pytest.mark.parametrize(("mapper", "doc"), [
    (lambda d: map_item("ATVPDKIKX0DER", d), {"sku": "\x00"}),
    (map_order_v0, {"AmazonOrderId": "\x00", "OrderStatus": "Shipped",
                    "PurchaseDate": "2026-01-01T00:00:00Z",
                    "LastUpdateDate": "2026-01-01T00:00:00Z"}),
    (lambda d: map_item_v0(ORDER, d), {"ASIN": "\x00", "OrderItemId": "1",
                                       "QuantityOrdered": 1}),
    (lambda d: map_item_2026(ORDER, d), {"orderItemId": "1", "quantityOrdered": 1,
                                         "product": {}, "proceeds": {"\x00": None}}),
    (map_order_2026, with_(ORDER_2026, "orderItems/0/product/title", "a\ud800")),
    (lambda d: map_summary(MARKET, d), {"sellerSku": "S", "x": float("nan")}),
], ids=["listing sku NUL", "v0 order id NUL", "v0 item ASIN NUL", "2026 item key NUL",
        "2026 title lone surrogate", "inventory NaN"])
def test_what_postgres_cannot_store_is_malformed(mapper: Any, doc: Any) -> None:
    with pytest.raises(MalformedResponseError, match="NUL, a lone surrogate, NaN or Infinity"):
        mapper(doc)


def test_a_quantity_past_the_integer_column_is_malformed() -> None:
    with pytest.raises(MalformedResponseError, match="QuantityOrdered"):
        map_item_v0(ORDER, {"ASIN": "", "OrderItemId": "0", "QuantityOrdered": 2_147_483_648})
    channels = [{"quantity": 2**31 - 1}, {"quantity": 1}]
    with pytest.raises(MalformedResponseError, match="adds up"):
        map_item(MARKET, {"sku": "S", "fulfillmentAvailability": channels})


@pytest.mark.parametrize(("path", "value"), [
    ("proceeds", {"grandTotal": {"amount": "1E+14", "currencyCode": "USD"}}),
    # 9E+999999 x 3 used to raise decimal.Overflow (an ArithmeticError)
    ("orderItems/0/product/price/unitPrice/amount", "9E+999999"),
    ("orderItems/0/product/price/unitPrice/amount", "40000000000000"),  # x 3 is too much
])
def test_money_past_numeric_18_4_is_malformed(path: str, value: Any) -> None:
    with pytest.raises(MalformedResponseError, match="out of range"):
        map_order_2026(with_(ORDER_2026, path, value))


@pytest.mark.parametrize("value", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_datetime_in_utc_is_malformed(value: str) -> None:
    with pytest.raises(MalformedResponseError, match="createdTime is out of range"):
        map_order_2026(with_(ORDER_2026, "createdTime", value))  # was OverflowError


# ---------------------------------------------------------------- notifications


def test_a_notification_type_that_is_a_list_is_invalid() -> None:
    message = order_change("A1SELLER", ORDER)
    message["NotificationType"] = ["ORDER_CHANGE"]
    with pytest.raises(InvalidNotification, match="unknown notification type"):
        parse(message)  # was TypeError: unhashable type: 'list'


@pytest.mark.parametrize("message", [
    {"NotificationType": "FBA_INVENTORY_AVAILABILITY_CHANGES", "\x00": None},
    with_(listing_change("A1SELLER", "SKU", MARKET), "Payload/Sku", "\x00"),
    with_(order_change("A1SELLER", ORDER), "NotificationVersion", "\ud800"),
])
def test_a_notification_the_inbox_cannot_store_is_invalid(message: dict[str, Any]) -> None:
    with pytest.raises(InvalidNotification, match="NUL, a lone surrogate"):
        parse(message)  # was accepted, then refused by jsonb in the inbox insert


@pytest.mark.parametrize("payload", [5, "ab", ["SellerId"]])
def test_an_fba_payload_that_is_not_an_object_is_invalid(payload: Any) -> None:
    message = inventory_change("A1SELLER", "SKU", MARKET)
    del message["Payload"]  # the FBA schema requires none, and reads either casing
    message["payload"] = payload
    with pytest.raises(InvalidNotification, match="Payload that is not an object"):
        parse(message)  # was TypeError / ValueError from dict(payload)


def test_a_naive_event_time_is_no_event_time() -> None:
    message = order_change("A1SELLER", ORDER)
    message["EventTime"] = "2026-01-01T00:00:00"  # the schemas do not check formats
    assert parse(message).event_time is None  # was a naive datetime (lag: TypeError)


# ---------------------------------------------------------------- report documents


async def _rows(*lines: str) -> list[ParsedRow]:
    async def source() -> AsyncIterator[str]:
        for line in lines:
            yield line

    return [row async for row in table_rows(source())]


def rows(*lines: str) -> list[ParsedRow]:
    return asyncio.run(_rows(*lines))


def test_a_csv_cell_over_the_csv_modules_limit_is_a_rejected_row() -> None:
    (row,) = rows("a,b", "x," + "é" * 140_000)  # was _csv.Error: field larger than ...
    assert row.values is None and "not valid CSV" in (row.error or "")


def test_a_bare_cr_in_a_csv_row_is_a_rejected_row() -> None:
    first, second = rows("a,b", "x\ry,z", "1,2")  # was _csv.Error: new-line character seen
    assert first.values is None and second.values == {"a": "1", "b": "2"}


def test_a_csv_header_that_does_not_split_is_a_malformed_document() -> None:
    with pytest.raises(MalformedResponseError, match="header row is not valid CSV"):
        rows("\rsku,fnsku", "1,2")


def test_a_row_with_a_nul_is_rejected_and_kept_readable() -> None:
    (row,) = rows("sku\tqty", "A\x00B\t1")  # was accepted: report_rows' jsonb refuses NUL
    assert row.values is None and row.partial == {"sku": "A\ufffdB", "qty": "1"}
    with pytest.raises(MalformedResponseError, match="header row holds a NUL"):
        rows("\x00sku\tqty", "A\t1")


def test_an_unclosed_csv_quote_costs_one_row_not_the_rest(monkeypatch: Any) -> None:
    # It used to swallow every later line into one record, re-counting its quotes per line:
    # time quadratic in the rest of the document (80,000 lines: 24 s), all of it one row.
    monkeypatch.setattr(report_parse, "MAX_RECORD", 100)
    parsed = rows("a,b", 'x",1', *(f"{n},{n}" for n in range(40)))
    assert parsed[0].values is None and parsed[0].line == 2
    assert [r.values for r in parsed[1:]][-1] == {"a": "39", "b": "39"}


@pytest.mark.parametrize("gzipped", [False, True])
def test_a_line_over_many_chunks_is_one_line(gzipped: bool) -> None:
    # ``pending += chunk`` copied the whole line per chunk (one 8 MB line: 2.8 s, now 0.03 s)
    body = b"h1\th2\n" + b"x" * 5000 + b"\t1\nlast\t2"
    data = gzip.compress(body) if gzipped else body

    async def read() -> list[str]:
        async def chunks() -> AsyncIterator[bytes]:
            for at in range(0, len(data), 7):
                yield data[at:at + 7]

        return [line async for line in report_parse.lines(chunks(), gzip=gzipped)]

    assert asyncio.run(read()) == ["h1\th2", "x" * 5000 + "\t1", "last\t2"]


@pytest.mark.parametrize(("reader", "doc"), [
    (json_rows, ["\x00"]), (json_rows, {"a": float("nan")}),
    (sales_and_traffic_rows, {"salesAndTrafficByDate": [{"date": "\ud800"}]}),
])
def test_a_json_report_entry_jsonb_cannot_hold_is_a_rejected_row(reader: Any, doc: Any) -> None:
    (row,) = reader(doc)
    assert row["data"] is None and row["record_key"] is None and "NUL" in row["error"]


@pytest.mark.parametrize(("column", "value"), [
    ("afn-total-quantity", "\u00b2"),  # str.isdigit() says yes, int() says ValueError
    ("afn-total-quantity", "9" * 5000),  # int() refuses past 4300 digits
    ("afn-total-quantity", "2147483648"), ("afn-total-quantity", "0000000000099999999999"),
])
def test_a_report_quantity_that_is_not_an_integer_column_is_malformed(column: str,
                                                                      value: str) -> None:
    with pytest.raises(MalformedResponseError, match="non-negative integer"):
        map_myi_row(MARKET, {"sku": "S", column: value})


@pytest.mark.parametrize("value", [
    "2024-13-01 10:00:00 PST",  # was ValueError: month must be in 1..12
    "0001-01-01 00:00:00 JST",  # was OverflowError
    "\u0662\u0660\u0662\u0664-01-01 10:00:00 PST",  # \\d took other scripts' digits
])
def test_a_report_local_time_that_is_no_time_is_malformed(value: str) -> None:
    with pytest.raises(MalformedResponseError):
        report_time(value, "open-date")
    with pytest.raises(MalformedResponseError):
        map_listing_row(MARKET, "USD", {"seller-sku": "S", "open-date": value})


def test_a_report_order_total_past_numeric_18_4_is_malformed() -> None:
    row = {"amazon-order-id": ORDER, "order-status": "Shipped", "sku": "S", "quantity": "1",
           "purchase-date": "2026-01-01T00:00:00+00:00",
           "last-updated-date": "2026-01-01T00:00:00+00:00",
           "item-price": "90000000000000", "item-tax": "90000000000000"}
    with pytest.raises(MalformedResponseError, match="total is out of range"):
        map_order_rows(ORDERS_BY_UPDATE, [row])  # 9E+999999 twice was decimal.Overflow


# ---------------------------------------------------------------- operator commands

@pytest.fixture(autouse=True)
def keep_logging() -> Iterator[None]:
    with restored_logging():
        yield


NOWHERE = {"DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x",
           "REDIS_URL": "redis://127.0.0.1:1/0", "SPSYNC_TOKEN_KEYS": new_key_spec()}
PATCH = ["patch", "--seller", "A1", "--sku", "S", "--marketplace-id", MARKET,
         "--product-type", "P", "--patches"]


@pytest.mark.parametrize(("patches", "says"), [
    ("[" * 5000, "must be a JSON array"),  # was RecursionError from json.loads
    ("[NaN]", "NaN"), ('[{"value": "\\u0000"}]', "NUL"),  # jsonb would refuse either
])
def test_patches_that_cannot_be_queued_are_a_usage_error(patches: str, says: str) -> None:
    result = CliRunner().invoke(cli.listing, [*PATCH, patches], env=NOWHERE)
    assert result.exit_code == 2 and says in result.output, result.output
