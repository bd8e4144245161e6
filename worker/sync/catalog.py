"""Which streams a seller has, and how each one runs (spec, windows, page size, interval).

Everything here is read from the declarations in :mod:`worker.sync.registry`, with the
deployment's settings for the knobs a kind lets it tune.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from worker.config import Settings
from worker.db.sellers import SellerRecord
from worker.sync import registry
from worker.sync.declaration import StreamKind, UnknownStreamError
from worker.sync.endpoint import StreamSpec
from worker.sync.windows import WindowPolicy

__all__ = ["Plan", "UnknownStreamError", "interval_of", "plan", "streams_for"]


@dataclass(frozen=True)
class Plan:
    kind: StreamKind
    stream: str
    spec: StreamSpec[Any] | None  # None: a report kind (``kind.report``)
    policy: WindowPolicy
    page_size: int
    interval: timedelta
    operation: str  # what paces it

def streams_for(marketplace_ids: list[str]) -> list[str]:
    """Every stream a seller with these marketplaces is synced by.

    Registering a seller again (``sellers add``, ``upsert_seller``) creates the streams it
    lacks, so a seller registered before a stream existed gets it the same way.
    """
    return registry.streams_for(marketplace_ids)


def plan(settings: Settings, seller: SellerRecord, stream: str) -> Plan:
    known = streams_for(seller.marketplace_ids)
    if stream not in known:
        raise UnknownStreamError(f"unknown stream {stream!r} for this seller "
                                 f"(known: {', '.join(known)})")
    kind = registry.kind_of(stream)
    tuning = kind.tuned(settings)
    spec = kind.spec(stream, kind.version_of(seller)) if kind.endpoint is not None else None
    return Plan(kind, stream, spec, tuning.policy, tuning.page_size, tuning.interval,
                kind.operation(seller))


def interval_of(settings: Settings, stream: str) -> timedelta:
    """How often ``stream`` is synced (by its kind); :class:`UnknownStreamError` if no kind
    owns it."""
    return registry.kind_of(stream).tuned(settings).interval
