"""Seeded generation of each seller's SKUs, FBA stock and listings.

Runs after :func:`generate.build_world` from its own random stream per seller
(``seeded(cfg, "catalog", index)``), so adding the catalog changed no order: the products
orders are drawn from become the first catalog entries (same SKU, ASIN, title and price),
and 0-40 more SKUs (``SKU-xxxx``, never ordered yet) bring a seller to 40-80 — or to
``catalog_size`` when that is set (tests use it to get several inventory pages).
"""

from __future__ import annotations

import random
from decimal import Decimal

from .catalog import (
    AFN,
    MFN,
    RESEARCHING_TERMS,
    RESERVED_PARTS,
    UNFULFILLABLE_PARTS,
    CatalogEntry,
    Issue,
    Listing,
    Stock,
)
from .config import SimConfig
from .generate import ALNUM, SETTLE_SECONDS, digits, seeded
from .world import Seller, World

EXTRA_SKUS = (0, 40)
AFN_SHARE = 0.6
ISSUE_SHARE = 0.15
LISTING_AGE_DAYS = (30, 720)

_PRODUCT_TYPES = ("HOME", "KITCHEN", "OFFICE_PRODUCTS", "ELECTRONIC_CABLE", "LIGHT_FIXTURE")
_WORDS = (("Sandbox", "Sample", "Demo"), ("Kettle", "Stapler", "Adapter", "Shelf", "Torch"),
          ("Red", "Blue", "Black", "White"))

# Issue categories are the ones the model's Issue.categories description lists.
ISSUES: tuple[Issue, ...] = (
    Issue("90220", "'brand' is required but not supplied.", "ERROR",
          ("MISSING_ATTRIBUTE",), ("brand",)),
    Issue("18155", "The price is outside the expected range for this product.", "ERROR",
          ("INVALID_PRICE",), ("purchasable_offer",)),
    Issue("5665", "You need approval to list this product in this category.", "ERROR",
          ("QUALIFICATION_REQUIRED",)),
    Issue("99010", "The main image is missing; shoppers cannot see the product.", "WARNING",
          ("MISSING_IMAGE",), ("main_product_image_locator",)),
    Issue("90244", "'bullet_point' is recommended but not supplied.", "WARNING",
          ("MISSING_ATTRIBUTE",), ("bullet_point",)),
)


def add_catalogs(config: SimConfig, world: World) -> None:
    for seller in world.sellers.values():
        populate(config, seller, world.start)


def populate(config: SimConfig, seller: Seller, start: int) -> None:
    """Fill ``seller.skus``, ``seller.listings`` and ``seller.stock``."""
    rng = seeded(config, "catalog", seller.index)
    entries = [_entry(rng, p.sku, p.asin, p.title, p.usd_price, start) for p in seller.catalog]
    taken = {e.sku for e in entries}
    extra = rng.randint(*EXTRA_SKUS)
    if config.catalog_size:
        extra = max(0, config.catalog_size - len(entries))
    for n in range(extra):
        entries.append(_extra(rng, taken, n, start))
    for entry in entries:
        seller.skus[entry.sku] = entry
        listing = seller.listings[entry.sku] = _listing(rng, entry, start)
        if entry.channel == MFN:  # every marketplace starts offering the whole stock
            listing.offered = {m: listing.on_hand for m in seller.marketplace_ids}
    for marketplace in seller.marketplaces:
        for entry in entries:
            if entry.channel == AFN:
                key = (marketplace.marketplace_id, entry.sku)
                seller.stock[key] = _stock(rng, entry, key[0], start, config.history_days)


def _entry(
    rng: random.Random, sku: str, asin: str, title: str, usd_price: Decimal, start: int
) -> CatalogEntry:
    channel = AFN if rng.random() < AFN_SHARE else MFN
    return CatalogEntry(
        sku=sku,
        asin=asin,
        fnsku="X00" + _alnum(rng, 7) if channel == AFN else "",
        title=title,
        usd_price=usd_price,
        channel=channel,
        product_type=rng.choice(_PRODUCT_TYPES),
        listing_id=digits(rng, 4) + _alnum(rng, 7),
        created=start - rng.randint(*LISTING_AGE_DAYS) * 86_400,
    )


def _extra(rng: random.Random, taken: set[str], n: int, start: int) -> CatalogEntry:
    sku = "SKU-" + _alnum(rng, 4)
    while sku in taken:
        sku = "SKU-" + _alnum(rng, 4)
    taken.add(sku)
    words = [rng.choice(group) for group in _WORDS]
    title = f"{words[0]} {words[1]} {n + 1} - {words[2]}"
    price = Decimal(rng.randint(599, 8999)) / 100
    return _entry(rng, sku, "B0" + _alnum(rng, 8), title, price, start)


def _listing(rng: random.Random, entry: CatalogEntry, start: int) -> Listing:
    issues = [rng.choice(ISSUES)] if rng.random() < ISSUE_SHARE else []
    return Listing(
        sku=entry.sku,
        created=entry.created,
        last_updated=rng.randint(entry.created, start - SETTLE_SECONDS),
        on_hand=rng.randint(0, 120) if entry.channel == MFN else 0,
        issues=issues,
    )


def _stock(
    rng: random.Random, entry: CatalogEntry, marketplace_id: str, start: int, history_days: int
) -> Stock:
    weights = {RESERVED_PARTS[0]: (0, 8), RESERVED_PARTS[1]: (0, 3), RESERVED_PARTS[2]: (0, 1)}
    return Stock(
        sku=entry.sku,
        marketplace_id=marketplace_id,
        fulfillable=0 if rng.random() < 0.1 else rng.randint(1, 400),
        inbound_working=rng.choice((0, 0, 0, 12, 48)),
        inbound_shipped=rng.choice((0, 0, 24, 60)),
        inbound_receiving=rng.choice((0, 0, 6)),
        reserved={part: rng.randint(*weights.get(part, (0, 1))) for part in RESERVED_PARTS},
        unfulfillable={part: rng.choice((0, 0, 0, 0, 0, 1, 2)) for part in UNFULFILLABLE_PARTS},
        researching={term: rng.choice((0, 0, 0, 1)) for term in RESEARCHING_TERMS},
        last_updated=start - rng.randint(SETTLE_SECONDS, history_days * 86_400),
    )


def _alnum(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(length))
