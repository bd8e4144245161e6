"""The demo's other streams: money, returns, fees, the ledger, sales and traffic, catalog,
prices... every kind beyond the orders, inventory and listings it compares with the truth.

The demo waits (within its timeout) until every stream of the kinds in :data:`REQUIRED` has
synced once, or was refused by Amazon (then disabled, as a seller without the role would be),
and its summary lists each kind: rows mirrored, streams synced.
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import Connection

from worker.runtime import Runtime
from worker.status import collect
from worker.sync import registry

REQUIRED = ("returns", "fee-estimates", "sales-traffic", "catalog")  # the demo waits for these
COMPARED = ("orders", "inventory", "listings")  # checked row by row against the truth instead


def tally(conn: Connection, seller_ids: set[int]) -> dict[str, dict[str, int]]:
    """Per kind (registry order): streams, streams synced at least once, streams refused
    (disabled), rows in its table for these sellers."""
    out: dict[str, dict[str, int]] = {}
    for r in collect(conn):
        kind = registry.kind_of(r["stream"]).name
        if r["seller_id"] not in seller_ids or kind in COMPARED:
            continue
        t = out.setdefault(kind, {"streams": 0, "synced": 0, "refused": 0, "rows": 0})
        t["streams"] += 1
        t["synced"] += r["last_success_at"] is not None
        t["refused"] += r["stream_disabled"] is not None
        t["rows"] += r["rows"]
    order = [k.name for k in registry.synced()]
    return dict(sorted(out.items(), key=lambda kv: order.index(kv[0])))


def compared_synced(conn: Connection, seller_ids: set[int]) -> bool:
    """Every stream of the kinds compared with the truth synced once, for every seller: the
    moment the demo freezes the simulator (the other streams go on meanwhile)."""
    rows = [r for r in collect(conn) if r["seller_id"] in seller_ids
            and registry.kind_of(r["stream"]).name in COMPARED]
    return bool(rows) and all(r["last_success_at"] is not None for r in rows)


def settled(kinds: dict[str, dict[str, int]]) -> bool:
    """Every stream of every required kind synced once (or refused)."""
    return all(k in kinds and kinds[k]["synced"] + kinds[k]["refused"] >= kinds[k]["streams"]
               for k in REQUIRED)


def wait(rt: Runtime, seller_ids: set[int], deadline: float) -> dict[str, dict[str, int]]:
    """The tally once :func:`settled`, or as it stands at ``deadline`` (monotonic)."""
    while True:
        with rt.engine.begin() as conn:
            kinds = tally(conn, seller_ids)
        if settled(kinds) or time.monotonic() >= deadline:
            return kinds
        time.sleep(1.0)


def describe(kinds: dict[str, dict[str, Any]]) -> str:
    """``other streams: 40/42 synced, 0 refused; rows: finances 812, returns 31 (2/3), ...``"""
    streams = sum(t["streams"] for t in kinds.values())
    synced = sum(t["synced"] for t in kinds.values())
    refused = sum(t["refused"] for t in kinds.values())
    rows = ", ".join(
        f"{k} {t['rows']:,}" + ("" if t["synced"] == t["streams"]
                                else f" ({t['synced']}/{t['streams']} synced)")
        for k, t in kinds.items())
    return (f"other streams: {synced}/{streams} synced, {refused} refused by Amazon; rows: "
            f"{rows}")
