"""Which streams a seller has, and how each one runs (spec, windows, page size, interval)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from worker.config import Settings
from worker.db.sellers import SellerRecord
from worker.sync import inventory, listings, orders
from worker.sync.runner import StreamSpec
from worker.sync.windows import WindowPolicy


class UnknownStreamError(ValueError):
    pass


@dataclass(frozen=True)
class Plan:
    spec: StreamSpec[Any]
    policy: WindowPolicy
    page_size: int
    interval: timedelta


def streams_for(marketplace_ids: list[str]) -> list[str]:
    """Every stream a seller with these marketplaces is synced by.

    Registering a seller again (``sellers add``, ``upsert_seller``) creates the streams it
    lacks, so a seller registered before a stream existed gets it the same way.
    """
    return [orders.STREAM, *(inventory.stream_name(m) for m in marketplace_ids),
            *(listings.stream_name(m) for m in marketplace_ids)]


def plan(settings: Settings, seller: SellerRecord, stream: str) -> Plan:
    if stream not in streams_for(seller.marketplace_ids):
        known = ", ".join(streams_for(seller.marketplace_ids))
        raise UnknownStreamError(f"unknown stream {stream!r} for this seller (known: {known})")
    if stream == orders.STREAM:
        return Plan(
            orders.orders_spec(seller),
            WindowPolicy(
                lag=timedelta(seconds=settings.orders_lag_seconds),
                overlap=timedelta(seconds=settings.orders_overlap_seconds),
                max_span=timedelta(hours=settings.orders_max_window_hours),
                initial=timedelta(days=settings.orders_initial_days),
            ),
            settings.orders_page_size,
            interval_of(settings, stream),
        )
    if stream.startswith(listings.PREFIX):
        return Plan(
            listings.listings_spec(stream),
            WindowPolicy(
                lag=timedelta(0),
                overlap=timedelta(seconds=settings.listings_overlap_seconds),
                max_span=timedelta(days=36500),  # one window: sorted, keyset-paged by Amazon
                initial=listings.FULL_LISTING,  # a first sync lists everything
            ),
            listings.PAGE_SIZE,
            interval_of(settings, stream),
        )
    return Plan(
        inventory.inventory_spec(stream),
        WindowPolicy(
            lag=timedelta(0),
            overlap=timedelta(seconds=settings.inventory_overlap_seconds),
            max_span=timedelta(days=36500),  # startDateTime has no end: one window
            initial=timedelta(days=3650),  # a first sync lists everything
        ),
        50,  # fixed by Amazon for this operation
        interval_of(settings, stream),
    )


def interval_of(settings: Settings, stream: str) -> timedelta:
    """How often ``stream`` is synced (by its kind: orders, inventory:*, listings:*)."""
    if stream == orders.STREAM:
        return timedelta(seconds=settings.orders_interval_seconds)
    if stream.startswith(listings.PREFIX):
        return timedelta(seconds=settings.listings_interval_seconds)
    return timedelta(seconds=settings.inventory_interval_seconds)
