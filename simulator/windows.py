"""Time-window queries over a seller's orders, shared by v0 getOrders and searchOrders.

Both APIs have the same rules, only the parameter names differ: exactly one of
created-after / last-updated-after; a ``*Before`` bound of the other kind is refused;
a before bound must not precede its after bound and must be at least two minutes
(120 s / time_scale) before now. When no before bound is sent the window is closed at
now - lag on the first page and that bound travels in the token, so later pages see
the same window and the response can tell the caller where it ended.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .clock import parse_iso
from .errors import invalid_input
from .validation import Params
from .world import Order, Seller, Status

CREATED = "created"
UPDATED = "updated"


@dataclass(frozen=True)
class Names:
    """One API's spelling of the four window parameters."""

    created_after: str
    created_before: str
    updated_after: str
    updated_before: str


@dataclass(frozen=True)
class OrderQuery:
    mode: str  # CREATED | UPDATED
    after: float
    bound: int  # inclusive upper bound on the sort timestamp
    marketplaces: tuple[str, ...] | None = None
    statuses: tuple[str, ...] | None = None  # Status member names
    channels: tuple[str, ...] | None = None  # "AFN" / "MFN"
    order_ids: tuple[str, ...] | None = None

    def stamp(self, order: Order) -> int:
        return order.purchase_date if self.mode == CREATED else order.last_update

    def key(self, order: Order) -> tuple[int, str]:
        return (self.stamp(order), order.order_id)

    def matches(self, order: Order) -> bool:
        return (
            self.after <= self.stamp(order) <= self.bound
            and _allows(self.marketplaces, order.marketplace.marketplace_id)
            and _allows(self.statuses, order.status.name)
            and _allows(self.channels, order.fulfillment_channel)
            and _allows(self.order_ids, order.order_id)
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> OrderQuery:
        def optional(name: str) -> tuple[str, ...] | None:
            value = data.get(name)
            return None if value is None else tuple(value)

        return cls(
            mode=str(data["mode"]),
            after=float(data["after"]),
            bound=int(data["bound"]),
            marketplaces=optional("marketplaces"),
            statuses=optional("statuses"),
            channels=optional("channels"),
            order_ids=optional("order_ids"),
        )


def _allows(allowed: tuple[str, ...] | None, value: str) -> bool:
    return allowed is None or value in allowed


@dataclass(frozen=True)
class Page:
    orders: list[Order]
    last_key: tuple[int, str] | None
    more: bool


def page(seller: Seller, query: OrderQuery, after_key: tuple[int, str] | None, size: int) -> Page:
    """Up to ``size`` matching orders strictly after ``after_key`` in (stamp, id) order."""
    rows = sorted((o for o in seller.orders.values() if query.matches(o)), key=query.key)
    if after_key is not None:
        rows = [o for o in rows if query.key(o) > after_key]
    chosen = rows[:size]
    last = query.key(chosen[-1]) if chosen else after_key
    return Page(chosen, last, len(rows) > size)


def window(params: Params, names: Names, now: float, lag: float) -> tuple[str, float, int]:
    """(mode, after, bound) from the four window parameters, or 400 naming the rule."""
    created, updated = names.created_after in params, names.updated_after in params
    if created == updated:
        both = "cannot both be specified" if created else "is required"
        raise invalid_input(
            f"Exactly one of '{names.created_after}' and '{names.updated_after}' {both}."
        )
    if created:
        _refuse(params, names.updated_before, names.created_after)
        return (CREATED, *_bounds(params, names.created_after, names.created_before, now, lag))
    _refuse(params, names.created_before, names.updated_after)
    return (UPDATED, *_bounds(params, names.updated_after, names.updated_before, now, lag))


def _refuse(params: Params, name: str, because: str) -> None:
    if name in params:
        raise invalid_input(f"'{name}' cannot be specified together with '{because}'.")


def _bounds(
    params: Params, after_name: str, before_name: str, now: float, lag: float
) -> tuple[float, int]:
    after = timestamp(params, after_name)
    if after > now:
        raise invalid_input(f"'{after_name}' must not be in the future.")
    if before_name not in params:
        return after, int(now - lag)
    before = timestamp(params, before_name)
    if before < after:
        raise invalid_input(f"'{before_name}' must be equal to or after '{after_name}'.")
    if before > now - lag:
        raise invalid_input(
            f"'{before_name}' must be at least {lag:g} seconds before the current time."
        )
    return after, int(before)


def timestamp(params: Params, name: str) -> float:
    try:
        return parse_iso(str(params[name]))
    except ValueError:
        raise invalid_input(
            f"'{name}' must be an ISO 8601 date-time; got '{params[name]}'."
        ) from None


def statuses_from_v0(values: list[str]) -> tuple[str, ...]:
    return tuple(Status.from_v0(v).name for v in values)


def statuses_from_v2026(values: list[str]) -> tuple[str, ...]:
    return tuple(s.name for v in values for s in Status.from_v2026(v))
