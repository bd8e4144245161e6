"""Seeded generation of everything in the world: identities, catalogs, orders.

Every random choice comes from a ``random.Random`` seeded with a string built from the
config seed, so the same seed gives the same world (given the same start time) and
adding a seller never reshuffles another seller's data.
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from decimal import Decimal

from .config import SimConfig
from .marketplaces import ORDER_ID_PREFIXES, Marketplace, marketplaces_for, region_for
from .world import Item, Order, Product, Seller, Status, World

ALNUM = string.ascii_uppercase + string.digits
SETTLE_SECONDS = 300  # initial orders were last touched at least 5 minutes before start

_ADJECTIVES = ("Sandbox", "Test", "Demo", "Sample", "Mock", "Fixture")
_NOUNS = ("Widget", "Gadget", "Mug", "Notebook", "Cable", "Lamp", "Bottle", "Charger")
_COLOURS = ("Red", "Blue", "Green", "Black", "White", "Grey")

# Mostly shipped, as in a real history; weights are (status, weight).
_INITIAL_STATUSES = (
    (Status.SHIPPED, 78),
    (Status.UNSHIPPED, 10),
    (Status.PENDING, 5),
    (Status.CANCELED, 7),
)


def seeded(config: SimConfig, *parts: object) -> random.Random:
    """An independent stream per purpose, e.g. ``seeded(cfg, "changes", 2)``."""
    return random.Random(":".join(str(p) for p in (config.seed, *parts)))


def token_text(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(length))


def hex_text(rng: random.Random, length: int) -> str:
    return "".join(rng.choice("0123456789abcdef") for _ in range(length))


def digits(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(string.digits) for _ in range(length))


def selling_partner_id(config: SimConfig, index: int) -> str:
    rng = seeded(config, "seller-id", index)
    return "A" + "".join(rng.choice(ALNUM) for _ in range(13))


def build_world(config: SimConfig, start: int) -> World:
    world = World(start=start)
    for index in range(config.sellers):
        rng = seeded(config, "seller", index)
        seller = Seller(
            index=index,
            seller_id=selling_partner_id(config, index),
            region=region_for(index),
            marketplaces=marketplaces_for(index, config.eu_marketplaces),
            catalog=_catalog(rng),
        )
        world.add_seller(seller)
        for _ in range(config.orders_per_seller):
            world.add_order(_historic_order(rng, world, seller, config.history_days))
    return world


def _catalog(rng: random.Random, size: int = 40) -> tuple[Product, ...]:
    products = []
    for n in range(size):
        title = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {n + 1} - {rng.choice(_COLOURS)}"
        products.append(
            Product(
                sku=f"SBX-{''.join(rng.choice(string.ascii_uppercase) for _ in range(4))}-{n:03d}",
                asin="B0" + "".join(rng.choice(ALNUM) for _ in range(8)),
                title=title,
                usd_price=Decimal(rng.randint(499, 14999)) / 100,
            )
        )
    return tuple(products)


def _historic_order(rng: random.Random, world: World, seller: Seller, history_days: int) -> Order:
    latest = world.start - SETTLE_SECONDS
    purchase = rng.randint(world.start - history_days * 86_400, latest)
    status = rng.choices([s for s, _ in _INITIAL_STATUSES], [w for _, w in _INITIAL_STATUSES])[0]
    # A pending order has not been touched since it was placed.
    last_update = purchase if status is Status.PENDING else rng.randint(purchase, latest)
    return new_order(rng, world, seller, status, purchase, last_update)


def new_order(
    rng: random.Random,
    world: World,
    seller: Seller,
    status: Status,
    purchase: int,
    last_update: int,
) -> Order:
    """An order with 1-3 distinct catalog items, quantities consistent with ``status``."""
    marketplace = _pick_marketplace(rng, seller.marketplaces)
    channel = "AFN" if rng.random() < 0.3 else "MFN"
    order = Order(
        order_id=_unique(world, lambda: _order_id(rng, seller.region)),
        seller_id=seller.seller_id,
        marketplace=marketplace,
        status=status,
        purchase_date=purchase,
        last_update=last_update,
        fulfillment_channel=channel,
        # v0 IsPrime: "a seller-fulfilled Amazon Prime order" — so never on AFN.
        is_prime=channel == "MFN" and rng.random() < 0.2,
        items=_items(rng, world, seller, marketplace),
    )
    shipped = status in (Status.SHIPPED, Status.INVOICE_UNCONFIRMED)
    for item in order.items:
        item.quantity_shipped = item.quantity_ordered if shipped else 0
    return order


def _pick_marketplace(rng: random.Random, marketplaces: tuple[Marketplace, ...]) -> Marketplace:
    if len(marketplaces) == 1 or rng.random() < 0.8:
        return marketplaces[0]
    return rng.choice(marketplaces[1:])


def _items(
    rng: random.Random, world: World, seller: Seller, marketplace: Marketplace
) -> list[Item]:
    count = rng.choice((1, 1, 1, 2, 2, 3))
    return [
        Item(
            order_item_id=_unique(world, lambda: str(rng.randint(1, 9)) + digits(rng, 13)),
            product=product,
            unit_price=marketplace.price(product.usd_price),
            quantity_ordered=rng.randint(1, 3),
        )
        for product in rng.sample(seller.catalog, count)
    ]


def _order_id(rng: random.Random, region: str) -> str:
    return f"{rng.choice(ORDER_ID_PREFIXES[region])}-{digits(rng, 7)}-{digits(rng, 7)}"


def _unique(world: World, make: Callable[[], str]) -> str:
    while True:
        candidate = make()
        if candidate not in world.taken_ids:
            world.taken_ids.add(candidate)
            return candidate
