"""The money streams: transactions (Finances 2024-06-19 ``listTransactions``) and payouts
(Finances v0 ``listFinancialEventGroups``), declared in :mod:`worker.sync.registry`.

Amazon keeps changing a transaction for weeks after it was posted (deferred, then released;
late fees), and a payout group until it closes, so both streams re-read a look-back window
on every run: their ``overlap`` (default 30 days for transactions, 60 for groups; settings
``SPSYNC_FINANCES_OVERLAP_SECONDS``, ``SPSYNC_PAYOUTS_OVERLAP_SECONDS``). Neither document
carries an update time, so a re-read row replaces the stored one when its JSON differs: one
writer per (seller, stream) at a time (the sync's advisory lock), reading later, is newer.

One stream per seller, without ``marketplaceId``: "If you want to retrieve MFN orders in the
US store, do not supply the marketplaceId parameter" (the model's description of
``listTransactions``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection

from worker.db import finances as store
from worker.db.rows import BreakdownRow, EventGroupRow, TransactionRow
from worker.db.sellers import SellerRecord
from worker.sync.endpoint import Scope, Written
from worker.sync.fields import bad, money, obj, opt_str, parse_time, req_str, storable
from worker.sync.paging import Query

# the related identifiers kept as columns (all of them are in ``related``)
COLUMNS = {"ORDER_ID": "order_id", "SHIPMENT_ID": "shipment_id",
           "FINANCIAL_EVENT_GROUP_ID": "financial_event_group_id",
           "SETTLEMENT_ID": "settlement_id", "REFUND_ID": "refund_id"}
MAX_DEPTH = 16  # breakdowns nested deeper than this are refused as malformed
PRODUCT = "ProductContext"


@dataclass
class TransactionPage:
    transactions: list[TransactionRow] = field(default_factory=list)
    breakdowns: list[BreakdownRow] = field(default_factory=list)


def _money(doc: dict[str, Any], key: str, what: str, *, amount: str = "currencyAmount",
           currency: str = "currencyCode") -> tuple[Any, str | None]:
    """(amount, currency) of an optional Currency object; (None, None) when absent."""
    value = doc.get(key)
    if value is None:
        return None, None
    return money(value, f"{what}.{key}", amount_key=amount, currency_key=currency)


def _time(doc: dict[str, Any], key: str, what: str) -> Any:
    value = doc.get(key)
    return None if value in (None, "") else parse_time(value, f"{what}.{key}")


def array(doc: dict[str, Any], key: str, what: str) -> list[Any]:
    """An optional JSON array (absent: empty)."""
    value = doc.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise bad(f"{what}.{key} is not an array")
    return value


def _breakdowns(doc: dict[str, Any], what: str) -> list[Any]:
    """A ``breakdowns`` array. The model's own ``Transaction`` example wraps it in an object
    (``{"breakdowns": [...]}``) where its schema says array; both are read."""
    value = doc.get("breakdowns")
    if isinstance(value, dict) and set(value) == {"breakdowns"}:
        return array(value, "breakdowns", f"{what}.breakdowns")
    return array(doc, "breakdowns", what)


def related_identifiers(doc: dict[str, Any], what: str) -> dict[str, list[str]]:
    """``relatedIdentifiers`` as name -> values, in the order Amazon gave them."""
    related: dict[str, list[str]] = {}
    for entry in array(doc, "relatedIdentifiers", what):
        entry = obj(entry, f"{what}.relatedIdentifiers[]")
        name = req_str(entry, "relatedIdentifierName", f"{what}.relatedIdentifiers[]")
        value = req_str(entry, "relatedIdentifierValue", f"{what}.relatedIdentifiers[]")
        related.setdefault(name, []).append(value)
    return related


def _product(item: dict[str, Any], what: str) -> tuple[str | None, str | None, int | None]:
    """The item's (sku, asin, quantityShipped) from its ProductContext, if it has one."""
    for context in array(item, "contexts", what):
        context = obj(context, f"{what}.contexts[]")
        if context.get("contextType") == PRODUCT:
            quantity = context.get("quantityShipped")
            if quantity is not None and (not isinstance(quantity, int)
                                         or isinstance(quantity, bool)):
                raise bad(f"{what}.contexts[].quantityShipped is not an integer")
            return (opt_str(context, "sku", what), opt_str(context, "asin", what), quantity)
    return None, None, None


def _walk(transaction_id: str, item: int, roots: list[Any], first: int, what: str,
          product: tuple[str | None, str | None, int | None]) -> list[BreakdownRow]:
    """The nodes of ``roots`` and their sub-breakdowns, depth first, numbered from ``first``.
    Iterative, so a document nested past Python's stack is refused, not crashed on."""
    rows: list[BreakdownRow] = []
    stack: list[tuple[Any, str, int]] = [(r, "", 1) for r in reversed(roots)]
    while stack:
        node, parent, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise bad(f"{what} breakdowns are nested deeper than {MAX_DEPTH}")
        node = obj(node, f"{what}.breakdowns[]")
        kind = opt_str(node, "breakdownType", what)
        path = f"{parent}/{kind or ''}" if parent else (kind or "")
        amount, currency = _money(node, "breakdownAmount", what)
        children = _breakdowns(node, what)
        rows.append(BreakdownRow(transaction_id, item, first + len(rows), path, kind, depth,
                                 not children, amount, currency, *product))
        stack.extend((c, path, depth + 1) for c in reversed(children))
    return rows


def map_transaction(doc: Any) -> tuple[TransactionRow, list[BreakdownRow]]:
    """A ``Transaction`` -> its row and its breakdown rows. Pure."""
    doc = obj(doc, "transaction")
    storable(doc, "transaction")
    tid = req_str(doc, "transactionId", "transaction")
    what = f"transaction {tid}"
    related = related_identifiers(doc, what)
    total, currency = _money(doc, "totalAmount", what)
    marketplace = doc.get("marketplaceDetails")
    marketplace_id = opt_str(obj(marketplace, f"{what}.marketplaceDetails"), "marketplaceId",
                             what) if marketplace is not None else None
    row = TransactionRow(
        transaction_id=tid, transaction_type=opt_str(doc, "transactionType", what),
        transaction_status=opt_str(doc, "transactionStatus", what),
        description=opt_str(doc, "description", what),
        posted_date=_time(doc, "postedDate", what), total_amount=total, currency=currency,
        marketplace_id=marketplace_id,
        **{column: related.get(name, [None])[0] for name, column in COLUMNS.items()},
        related=related, raw=doc)
    breakdowns = _walk(tid, 0, _breakdowns(doc, what), 0, what, (None, None, None))
    for index, item in enumerate(array(doc, "items", what), start=1):
        item_what = f"{what} item {index}"
        item = obj(item, item_what)
        product = _product(item, item_what)
        amount, item_currency = _money(item, "totalAmount", item_what)
        item_breakdowns = _breakdowns(item, item_what)
        breakdowns.append(BreakdownRow(tid, index, 0, "", None, 0, not item_breakdowns, amount,
                                       item_currency, *product))  # the item's total
        breakdowns += _walk(tid, index, item_breakdowns, 1, item_what, product)
    return row, breakdowns


async def transaction_rows(scope: Scope, records: list[Any]) -> TransactionPage:
    page = TransactionPage()
    for record in records:
        row, breakdowns = map_transaction(record)
        page.transactions.append(row)
        page.breakdowns += breakdowns
    return page


def transactions_query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    """Every request: all marketplaces (no ``marketplaceId``); Amazon sizes the pages."""
    return {}


def write_transactions(conn: Connection, seller_id: int, page: TransactionPage) -> Written:
    written = store.upsert_transactions(conn, seller_id, page.transactions)
    return Written(len(written), store.replace_breakdowns(conn, seller_id, written,
                                                          page.breakdowns))


def map_group(doc: Any) -> EventGroupRow:
    """A v0 ``FinancialEventGroup`` -> a typed row. Pure."""
    doc = obj(doc, "financial event group")
    storable(doc, "financial event group")
    gid = req_str(doc, "FinancialEventGroupId", "financial event group")
    what = f"financial event group {gid}"

    def amount(key: str) -> tuple[Any, str | None]:
        return _money(doc, key, what, amount="CurrencyAmount", currency="CurrencyCode")

    original, original_currency = amount("OriginalTotal")
    converted, converted_currency = amount("ConvertedTotal")
    beginning, beginning_currency = amount("BeginningBalance")
    return EventGroupRow(
        financial_event_group_id=gid,
        processing_status=opt_str(doc, "ProcessingStatus", what),
        fund_transfer_status=opt_str(doc, "FundTransferStatus", what),
        original_total=original, original_currency=original_currency,
        converted_total=converted, converted_currency=converted_currency,
        beginning_balance=beginning, beginning_currency=beginning_currency,
        group_start=_time(doc, "FinancialEventGroupStart", what),
        group_end=_time(doc, "FinancialEventGroupEnd", what),
        fund_transfer_date=_time(doc, "FundTransferDate", what),
        trace_id=opt_str(doc, "TraceId", what), account_tail=opt_str(doc, "AccountTail", what),
        raw=doc)


async def group_rows(scope: Scope, records: list[Any]) -> list[EventGroupRow]:
    return [map_group(r) for r in records]


def groups_query(seller: SellerRecord, marketplace_id: str | None, size: int) -> Query:
    return {"MaxResultsPerPage": size}


def write_groups(conn: Connection, seller_id: int, page: list[EventGroupRow]) -> Written:
    return Written(store.upsert_event_groups(conn, seller_id, page))
