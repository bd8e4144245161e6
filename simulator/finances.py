"""The seller's money, derived from its orders: transactions and payout groups.

Nothing is stored: every transaction is a pure function of an order, the seed and, for its
status, the simulated "now". The rules (all seeded per order, so the same seed and orders
give the same ledger):

- a Shipped (or InvoiceUnconfirmed) order has one ``Shipment`` transaction posted at its
  ship time (the order's ``last_update``, when it became Shipped): the items' principal,
  no tax and no shipping charge (the world's orders carry neither), minus a referral fee of
  :data:`REFERRAL_RATE` and, for AFN, an FBA fee of :data:`FBA_FEE_USD` per unit (in the
  marketplace's currency). It is ``DEFERRED`` for :data:`DEFERRAL_DAYS` after posting
  (DeferredContext ``DD7``), then ``DEFERRED_RELEASED``: a change inside any look-back window;
- :data:`REFUND_SHARE` of shipped orders are returned: a ``Refund`` posted 3-14 days after
  shipment, the principal negative and :data:`REFERRAL_REFUND_SHARE` of the referral fee
  given back (the FBA fee is not); ``RELEASED``;
- :data:`ADJUSTMENT_SHARE` of shipped AFN orders get an ``Adjustment`` (an FBA fee
  re-measurement of :data:`ADJUSTMENT_FEE_USD` per unit) posted 2-20 days after shipment;
- a cancelled order was never charged, so it has no transaction; a partially shipped one
  has none until it is Shipped;
- a transaction appears once its posted date is not after now; payout groups
  (financial event groups) are :data:`GROUP_DAYS`-day periods per seller and currency
  aligned on :data:`GROUP_ANCHOR`, holding the transactions posted in them; a period is
  ``Open`` until its end, then ``Closed`` and paid out a day later.

:class:`FinanceBook` keeps one sorted index per seller, built on first use (money is worked
out only for what is rendered or summed) and then patched for just the orders whose
``last_update`` or status changed, so a page for a seller with 100,000 orders costs a scan
of the orders' stamps, a bisect and the rendering of the page.
"""

from __future__ import annotations

import base64
import bisect
import hashlib
import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from .marketplaces import CENT, Marketplace
from .world import Order, Seller, Status

DAY = 86_400
DEFERRAL_DAYS = 7
REFERRAL_RATE = Decimal("0.15")
FBA_FEE_USD = Decimal("3.22")
REFUND_SHARE = 0.05
REFERRAL_REFUND_SHARE = Decimal("0.80")
ADJUSTMENT_SHARE = 0.10
ADJUSTMENT_FEE_USD = Decimal("0.50")
GROUP_DAYS = 14
GROUP_ANCHOR = 1_577_923_200  # 2020-01-02T00:00:00Z, a Thursday

SHIPMENT, REFUND, ADJUSTMENT = "Shipment", "Refund", "Adjustment"
KINDS = (SHIPMENT, REFUND, ADJUSTMENT)
DEFERRED, RELEASED, DEFERRED_RELEASED = "DEFERRED", "RELEASED", "DEFERRED_RELEASED"
STATUSES = (DEFERRED, RELEASED, DEFERRED_RELEASED)
ZERO = Decimal("0.00")
_SHIPPED = (Status.SHIPPED, Status.INVOICE_UNCONFIRMED)


@dataclass(frozen=True, slots=True)
class Line:
    """One item's money in one transaction (negative: to the buyer or to Amazon)."""

    principal: Decimal
    referral: Decimal
    fba: Decimal

    @property
    def total(self) -> Decimal:
        return self.principal + self.referral + self.fba


@dataclass(frozen=True, slots=True)
class Entry:
    """One transaction; ``key`` (posted, order id, kind) orders the ledger and pages it."""

    key: tuple[int, str, int]
    order: Order
    kind: str
    matures: int | None  # end of the deferral, for a deferred transaction

    @classmethod
    def of(cls, posted: int, order: Order, kind: str, matures: int | None = None) -> Entry:
        return cls((posted, order.order_id, KINDS.index(kind)), order, kind, matures)

    @property
    def posted(self) -> int:
        return self.key[0]

    @property
    def marketplace(self) -> Marketplace:
        return self.order.marketplace

    def status(self, now: float) -> str:
        if self.matures is None:
            return RELEASED
        return DEFERRED if now < self.matures else DEFERRED_RELEASED

    def released(self, now: float) -> bool:
        """Whether v0 ``listFinancialEvents`` shows it: never deferred, or released."""
        return self.matures is None or now >= self.matures


@dataclass(frozen=True, slots=True)
class Group:
    currency: str
    start: int

    @property
    def end(self) -> int:
        return self.start + GROUP_DAYS * DAY


def group_of(entry: Entry) -> Group:
    period = GROUP_DAYS * DAY
    start = GROUP_ANCHOR + (entry.posted - GROUP_ANCHOR) // period * period
    return Group(entry.marketplace.currency, start)


def opaque_id(*parts: object) -> str:
    """A 43-character base64url id, as Amazon's transaction and group ids look."""
    digest = hashlib.blake2b(":".join(map(str, parts)).encode(), digest_size=32).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _draw(seed: int, order_id: str) -> int:
    """A per-order random number, independent of every other order and of scan order."""
    digest = hashlib.blake2b(f"{seed}:finances:{order_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def _round(amount: Decimal, marketplace: Marketplace) -> Decimal:
    step = Decimal(1) if marketplace.whole_units else CENT
    return amount.quantize(step, rounding=ROUND_HALF_UP).quantize(CENT)


def posts_sale(order: Order) -> bool:
    """Whether the order has transactions: a shipped order's sale, and what follows it."""
    return order.status in _SHIPPED


def order_entries(order: Order, seed: int) -> tuple[Entry, ...]:
    """Every transaction the order ever has, posted or still to come, in key order (their
    money is worked out only when asked for: :func:`lines`)."""
    if not posts_sale(order):
        return ()
    shipped = order.last_update
    entries = [Entry.of(shipped, order, SHIPMENT, shipped + DEFERRAL_DAYS * DAY)]
    draw = _draw(seed, order.order_id)
    if draw % 10_000 < REFUND_SHARE * 10_000:
        entries.append(Entry.of(shipped + (3 + (draw >> 16) % 12) * DAY, order, REFUND))
    if order.fulfillment_channel == "AFN" and (draw >> 32) % 10_000 < ADJUSTMENT_SHARE * 10_000:
        entries.append(Entry.of(shipped + (2 + (draw >> 48) % 19) * DAY, order, ADJUSTMENT))
    return tuple(sorted(entries, key=lambda e: e.key))


def lines(entry: Entry) -> tuple[Line, ...]:
    """The money of a transaction, one line per order item."""
    order, market = entry.order, entry.marketplace
    if entry.kind == ADJUSTMENT:
        return tuple(
            Line(ZERO, ZERO, -market.price(ADJUSTMENT_FEE_USD) * item.quantity_ordered)
            for item in order.items
        )
    afn = order.fulfillment_channel == "AFN"
    sale = tuple(
        Line(
            principal=item.line_total,
            referral=-_round(item.line_total * REFERRAL_RATE, market),
            fba=-market.price(FBA_FEE_USD) * item.quantity_ordered if afn else ZERO,
        )
        for item in order.items
    )
    if entry.kind == SHIPMENT:
        return sale
    return tuple(
        Line(-line.principal, _round(-line.referral * REFERRAL_REFUND_SHARE, market), ZERO)
        for line in sale
    )


def total(entry: Entry) -> Decimal:
    return sum((line.total for line in lines(entry)), ZERO)


Known = tuple[int, Status, tuple[Entry, ...]]  # an order's last_update, status, entries


class Ledger:
    """One seller's transactions sorted by :attr:`Entry.key`; totals cached per entry."""

    def __init__(self, entries: list[Entry], known: dict[str, Known]) -> None:
        self.entries = sorted(entries, key=lambda e: e.key)
        self.keys = [e.key for e in self.entries]
        self._known = known
        self._totals: dict[tuple[int, str, int], Decimal] = {}
        self._groups: tuple[int, dict[Group, list[Entry]]] | None = None
        self._group_totals: dict[Group, Decimal] = {}

    def of_order(self, order_id: str) -> tuple[Entry, ...]:
        """An order's transactions, in key order."""
        found = self._known.get(order_id)
        return found[2] if found else ()

    def total(self, entry: Entry) -> Decimal:
        cached = self._totals.get(entry.key)
        if cached is None:
            cached = self._totals[entry.key] = total(entry)
        return cached

    def replace(self, old: tuple[Entry, ...], new: tuple[Entry, ...]) -> None:
        """An order's transactions changed: swap its entries in place (a few bisects)."""
        for entry in old:
            at = bisect.bisect_left(self.keys, entry.key)
            del self.keys[at], self.entries[at]
            self._totals.pop(entry.key, None)
        for entry in new:
            at = bisect.bisect_left(self.keys, entry.key)
            self.keys.insert(at, entry.key)
            self.entries.insert(at, entry)
        self._groups = None

    def posted(self, after: float, before: float) -> list[Entry]:
        """Entries posted in ``[after, before)``."""
        low = bisect.bisect_left(self.keys, (math.ceil(after),))
        high = bisect.bisect_left(self.keys, (math.ceil(before),))
        return self.entries[low:high]

    def groups(self, now: float) -> dict[Group, list[Entry]]:
        """Every payout group with a transaction posted by ``now``, oldest first (cached
        until another transaction is posted or the ledger changes)."""
        posted = self.posted(0, math.floor(now) + 1)
        if self._groups is not None and self._groups[0] == len(posted):
            return self._groups[1]
        found: dict[Group, list[Entry]] = {}
        for entry in posted:
            found.setdefault(group_of(entry), []).append(entry)
        ordered = dict(sorted(found.items(), key=lambda kv: (kv[0].start, kv[0].currency)))
        self._groups, self._group_totals = (len(posted), ordered), {}
        return ordered

    def group_total(self, group: Group, now: float) -> Decimal:
        """The sum of the transactions posted in ``group`` by ``now``."""
        entries = self.groups(now).get(group, [])
        cached = self._group_totals.get(group)
        if cached is None:
            cached = self._group_totals[group] = sum((self.total(e) for e in entries), ZERO)
        return cached


class FinanceBook:
    """The per-seller ledgers of one simulator: built on first use, then brought up to
    date by swapping the entries of the orders whose ``last_update`` or status changed
    (detected by a cheap version: order count and the sum of ``last_update``)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._known: dict[str, dict[str, Known]] = {}
        self._ledgers: dict[str, tuple[tuple[int, int], Ledger]] = {}

    def ledger(self, seller: Seller) -> Ledger:
        version = (len(seller.orders), sum(o.last_update for o in seller.orders.values()))
        cached = self._ledgers.get(seller.seller_id)
        if cached is not None and cached[0] == version:
            return cached[1]
        if cached is None:
            ledger = self._build(seller)
        else:
            ledger = cached[1]
            self._update(seller, ledger)
        self._ledgers[seller.seller_id] = (version, ledger)
        return ledger

    def _build(self, seller: Seller) -> Ledger:
        known = self._known[seller.seller_id] = {
            order.order_id: (order.last_update, order.status, order_entries(order, self.seed))
            for order in seller.orders.values()
        }
        return Ledger([entry for _, _, entries in known.values() for entry in entries], known)

    def _update(self, seller: Seller, ledger: Ledger) -> None:
        known = self._known[seller.seller_id]
        for order in seller.orders.values():
            before = known.get(order.order_id)
            if before is not None and before[0] == order.last_update \
                    and before[1] is order.status:
                continue
            entries = order_entries(order, self.seed)
            ledger.replace(before[2] if before else (), entries)
            known[order.order_id] = (order.last_update, order.status, entries)
