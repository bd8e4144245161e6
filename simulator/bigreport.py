"""Synthetic orders-report documents of any size, made line by line while streaming.

For benchmarks (``POST /_sim/reports/generate``): ``rows`` single-item orders whose
last-updated dates climb evenly through the report's window, each row valid for the
orders flat file (same columns and formats as :mod:`report_content`), SKUs from the
seller's catalog. The same (seed, document id) always yields the same bytes; nothing is
kept in memory besides the generator's state, and the order ids are not registered in the
world (they belong to the document only).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal

from .catalog import CatalogEntry
from .documents import TSV, Document
from .marketplaces import ORDER_ID_PREFIXES, Marketplace
from .report_content import ORDER_COLUMNS, ZERO, iso_offset
from .world import Seller, Status

ROW_BYTES = 250  # a typical row's size, used to announce GZIP before the first byte
GENERATED_TYPES = (
    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
    "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
)
_STATUSES = (Status.SHIPPED, Status.SHIPPED, Status.SHIPPED, Status.UNSHIPPED, Status.CANCELED)


def generated(document_id: str, seller: Seller, rows: int, start: float, end: float,
              seed: str) -> Document:
    """A lazily generated orders document with ``rows`` data rows after the header."""
    def lines() -> Iterator[str]:
        return synthetic_lines(seller, rows, start, end, random.Random(seed))

    return Document(document_id, seller.seller_id, TSV, lines, rows + 1, (rows + 1) * ROW_BYTES)


def synthetic_lines(seller: Seller, rows: int, start: float, end: float,
                    rng: random.Random) -> Iterator[str]:
    yield "\t".join(ORDER_COLUMNS) + "\n"
    entries = [seller.skus[sku] for sku in sorted(seller.skus)]
    prefixes = ORDER_ID_PREFIXES[seller.region]
    step = (end - start) / max(rows, 1)
    for n in range(rows):
        updated = start + step * n
        yield _row(rng, seller, rng.choice(entries), prefixes, updated) + "\n"


def _row(rng: random.Random, seller: Seller, entry: CatalogEntry, prefixes: tuple[str, ...],
         updated: float) -> str:
    market = seller.marketplaces[0] if rng.random() < 0.8 else rng.choice(seller.marketplaces)
    order_id = f"{rng.choice(prefixes)}-{rng.randrange(10**7):07d}-{rng.randrange(10**7):07d}"
    status = rng.choice(_STATUSES)
    quantity = rng.randint(1, 3)
    purchased = updated - rng.randint(0, 3 * 86_400)
    channel = "Amazon" if entry.channel == "AFN" else "Merchant"
    fields = [
        order_id, order_id, iso_offset(purchased), iso_offset(updated), status.v0, channel,
        market.name, "", "Standard", entry.title, entry.sku, entry.asin, status.v0,
        str(quantity), market.currency, _price(entry, market, quantity),
        ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, "", "", "", "", "", "false", "", "",
    ]
    return "\t".join(fields)


def _price(entry: CatalogEntry, market: Marketplace, quantity: int) -> str:
    return f"{entry.price(market) * Decimal(quantity):.2f}"
