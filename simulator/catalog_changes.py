"""Changes to stock and listings over time, from their own seeded streams per seller.

Each inventory change moves units the way a fulfillment center does (a sale reserves a
unit, a reserved unit ships, inbound units are received, a unit is damaged or goes into
research, research finds it) and always changes a quantity that ``startDateTime``
detects, then bumps ``lastUpdatedTime``. (The model warns that changes *only* to
inbound quantities are not detected; the simulator never makes such a change, so a
mirror that follows ``startDateTime`` can always converge on the truth.) A listing
change either resolves a listing's issues or raises one, which can flip its status
between BUYABLE and DISCOVERABLE-only. The order stream is untouched by all of this.

Every change is told to a :class:`ChangeListener` (the simulator's notifications): each
stock move, and each listing change that flips the listing's status.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Protocol

from .catalog import RESEARCHING_TERMS, RESERVED_PARTS, UNFULFILLABLE_PARTS, Listing, Stock
from .catalog_gen import ISSUES
from .config import SimConfig
from .generate import seeded
from .world import Order, Seller, World

PENDING_ORDER, _, FC_PROCESSING = RESERVED_PARTS
WAREHOUSE_DAMAGED = UNFULFILLABLE_PARTS[1]
SHORT_TERM = RESEARCHING_TERMS[0]


def _sell(rng: random.Random, stock: Stock) -> bool:
    if stock.fulfillable == 0:
        return False
    units = min(stock.fulfillable, rng.randint(1, 3))
    stock.fulfillable -= units
    stock.reserved[PENDING_ORDER] += units
    return True


def _ship(rng: random.Random, stock: Stock) -> bool:
    if stock.reserved[PENDING_ORDER] == 0:
        return False
    stock.reserved[PENDING_ORDER] -= 1
    return True


def _receive(rng: random.Random, stock: Stock) -> bool:
    # Receiving always lands units in fulfillable (or FC processing), which is detected.
    units = stock.inbound_receiving or stock.inbound_shipped or rng.randint(6, 24)
    stock.inbound_receiving, stock.inbound_shipped = 0, 0
    stock.fulfillable += units - 1
    stock.reserved[FC_PROCESSING] += 1
    return True


def _damage(rng: random.Random, stock: Stock) -> bool:
    if stock.fulfillable == 0:
        return False
    stock.fulfillable -= 1
    stock.unfulfillable[WAREHOUSE_DAMAGED] += 1
    return True


def _research(rng: random.Random, stock: Stock) -> bool:
    if stock.researching[SHORT_TERM]:
        stock.researching[SHORT_TERM] -= 1
        stock.fulfillable += 1
        return True
    if stock.fulfillable == 0:
        return False
    stock.fulfillable -= 1
    stock.researching[SHORT_TERM] += 1
    return True


class ChangeListener(Protocol):
    """Told about every change to the world, as it happens."""

    def order_changed(self, order: Order, created: bool) -> None: ...

    def stock_changed(self, seller: Seller, stock: Stock) -> None: ...

    def listing_changed(self, seller: Seller, listing: Listing) -> None: ...


Move = Callable[[random.Random, Stock], bool]
MOVES: tuple[Move, ...] = (_sell, _sell, _ship, _receive, _damage, _research)


class CatalogMutator:
    """Applies stock and listing changes; one RNG per (seller, kind) keeps them seeded."""

    def __init__(
        self, config: SimConfig, world: World, listener: ChangeListener | None = None
    ) -> None:
        self._world = world
        self._listener = listener
        self._stock_rngs = {
            s.seller_id: seeded(config, "inventory-changes", s.index)
            for s in world.sellers.values()
        }
        self._listing_rngs = {
            s.seller_id: seeded(config, "listing-changes", s.index)
            for s in world.sellers.values()
        }

    def apply_inventory(self, seller_id: str, count: int, now: float) -> list[str]:
        """``count`` stock changes; the SKUs touched, in order (empty if no FBA SKU)."""
        seller = self._world.sellers[seller_id]
        rng = self._stock_rngs[seller_id]
        keys = sorted(seller.stock)
        if not keys:
            return []
        return [self._move(rng, seller, seller.stock[rng.choice(keys)], now)
                for _ in range(count)]

    def _move(self, rng: random.Random, seller: Seller, stock: Stock, now: float) -> str:
        for move in rng.sample(MOVES, len(MOVES)):
            if move(rng, stock):
                break
        stock.touch(now)
        if self._listener is not None:
            self._listener.stock_changed(seller, stock)
        return stock.sku

    def apply_listings(self, seller_id: str, count: int, now: float) -> list[str]:
        """``count`` listing changes; the SKUs touched, in order."""
        seller = self._world.sellers[seller_id]
        rng = self._listing_rngs[seller_id]
        skus = sorted(seller.listings)
        changed = []
        for _ in range(count):
            listing = seller.listings[rng.choice(skus)]
            before = listing.status
            if listing.issues:
                listing.issues.clear()
            else:
                listing.issues.append(rng.choice(ISSUES))
            listing.touch(now)
            changed.append(listing.sku)
            if self._listener is not None and listing.status != before:
                self._listener.listing_changed(seller, listing)
        return changed
