"""Changes to the world over time: new orders and Pending → Unshipped → Shipped moves.

Each seller draws its changes from its own seeded ``random.Random``, so the *sequence*
of changes is reproducible whether they come from the background loop or from
``POST /_sim/mutate``; only their timing follows the wall clock. The background loop
also drives :mod:`catalog_changes`: as many stock changes as order changes, and a
listing change for every fifth. Every order created or moved is told to the
:class:`~.catalog_changes.ChangeListener` (the simulator's notifications).
"""

from __future__ import annotations

import asyncio
import random
import time

from .catalog_changes import CatalogMutator, ChangeListener
from .clock import Clock
from .config import SimConfig
from .generate import new_order, seeded
from .merchant_stock import admit
from .world import Order, Seller, Status, World

TICK_SECONDS = 0.25
NEW_ORDER_SHARE = 0.4
LISTING_SHARE = 0.2  # listing changes per order change in the background loop

_NEXT_STATUS = {Status.PENDING: Status.UNSHIPPED, Status.UNSHIPPED: Status.SHIPPED}


class Mutator:
    """Applies changes to one world; one RNG per seller keeps sellers independent."""

    def __init__(
        self, config: SimConfig, world: World, listener: ChangeListener | None = None
    ) -> None:
        self._world = world
        self._listener = listener
        self._rngs = {
            s.seller_id: seeded(config, "changes", s.index) for s in world.sellers.values()
        }

    def apply(self, seller_id: str, count: int, now: float) -> list[str]:
        """Apply ``count`` changes to one seller; returns the touched AmazonOrderIds in order
        (fewer when a new order found none of its items offered: :mod:`merchant_stock`)."""
        seller = self._world.sellers[seller_id]
        rng = self._rngs[seller_id]
        changed = (self._change(rng, seller, now) for _ in range(count))
        return [order.order_id for order in changed if order is not None]

    def place(self, seller_id: str, count: int, now: float) -> list[str]:
        """``count`` new merchant-fulfilled orders, already ``Unshipped`` (paid and ready to
        ship: what a seller's warehouse waits for), told to the listener as created. Their
        AmazonOrderIds in order (fewer when an order found none of its items offered:
        :mod:`merchant_stock`); ``POST /_sim/mutate`` with kind ``unshipped``."""
        seller = self._world.sellers[seller_id]
        rng = self._rngs[seller_id]
        placed = []
        for _ in range(count):
            stamp = int(now)
            order = new_order(rng, self._world, seller, Status.UNSHIPPED, stamp, stamp)
            order.fulfillment_channel = "MFN"  # the merchant's to ship, not Amazon's
            if not admit(seller, order, now):
                continue
            self._world.add_order(order)
            if self._listener is not None:
                self._listener.order_changed(order, True)
            placed.append(order.order_id)
        return placed

    def _change(self, rng: random.Random, seller: Seller, now: float) -> Order | None:
        # Scanning in insertion order keeps the candidate list, and so the choice, seeded.
        movable = [o for o in seller.orders.values() if o.status in _NEXT_STATUS]
        created = not movable or rng.random() < NEW_ORDER_SHARE
        if created:
            new = self._new(rng, seller, now)
            if new is None:
                return None
            order = new
        else:
            order = rng.choice(movable)
            order.set_status(_NEXT_STATUS[order.status], now)
        if self._listener is not None:
            self._listener.order_changed(order, created)
        return order

    def _new(self, rng: random.Random, seller: Seller, now: float) -> Order | None:
        stamp = int(now)
        order = new_order(rng, self._world, seller, Status.PENDING, stamp, stamp)
        if not admit(seller, order, now):
            return None  # no marketplace offered its items: nothing was sold
        self._world.add_order(order)
        return order


class ChangeLoop:
    """Background ticker: ``changes_per_minute`` per seller, fractions carried over.

    ``ticks`` counts the passes :meth:`run` has completed (``/_sim/stats`` ``background``):
    a client that needs the loop to have run since some moment, say to see that a rate of 0
    really changes nothing, waits for it to grow instead of sleeping.
    """

    def __init__(
        self, mutator: Mutator, world: World, clock: Clock, rate: float,
        catalog: CatalogMutator | None = None,
    ) -> None:
        self.changes_per_minute = rate
        self._mutator = mutator
        self._catalog = catalog
        self._world = world
        self._clock = clock
        self._owed = {seller_id: 0.0 for seller_id in world.sellers}
        self._owed_listings = {seller_id: 0.0 for seller_id in world.sellers}
        self.ticks = 0

    async def run(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(TICK_SECONDS)
            now = time.monotonic()
            self.tick(now - last)
            last = now
            self.ticks += 1

    def tick(self, elapsed: float) -> None:
        """Owe each seller ``rate x elapsed`` changes; apply the whole ones."""
        per_second = self.changes_per_minute / 60.0
        for seller_id in self._owed:
            self._owed[seller_id] += per_second * elapsed
            whole = int(self._owed[seller_id])
            if whole:
                self._owed[seller_id] -= whole
                self._mutator.apply(seller_id, whole, self._clock.now())
                self._catalog_changes(seller_id, whole)

    def _catalog_changes(self, seller_id: str, whole: int) -> None:
        if self._catalog is None:
            return
        now = self._clock.now()
        self._catalog.apply_inventory(seller_id, whole, now)
        self._owed_listings[seller_id] += whole * LISTING_SHARE
        listings = int(self._owed_listings[seller_id])
        if listings:
            self._owed_listings[seller_id] -= listings
            self._catalog.apply_listings(seller_id, listings, now)
