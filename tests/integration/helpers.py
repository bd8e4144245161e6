"""Test helpers: register the simulator's sellers, read the mirror, read the truth."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, event, text

from worker.crypto import new_key_spec, parse_keys
from worker.db.sellers import upsert_seller
from worker.runtime import Runtime
from worker.sync.catalog import streams_for

V0_TO_MIRROR = {"Pending": "PENDING", "Unshipped": "UNSHIPPED", "Shipped": "SHIPPED",
                "Canceled": "CANCELLED", "PartiallyShipped": "PARTIALLY_SHIPPED",
                "Unfulfillable": "UNFULFILLABLE", "PendingAvailability": "PENDING_AVAILABILITY"}

# The token key of tests that build their own LwaTokenProvider (callers sharing one Redis
# share it too, as every process of a deployment shares SPSYNC_TOKEN_KEYS).
KEYRING = parse_keys(new_key_spec("test"))


def lwa_attempts_bound(outage: float, first: float, cap: float) -> int:
    """The most refresh attempts an LWA outage of ``outage`` seconds can meet for one seller
    when the n-th consecutive failure pauses every caller for min(cap, first * 2**(n-1))
    seconds: attempt k comes no earlier than the sum of the first k-1 pauses."""
    attempts, elapsed = 0, 0.0
    while elapsed < outage:
        attempts += 1
        elapsed += min(cap, first * 2 ** (attempts - 1))
    return attempts


class SimClock:
    """The runner's clock and the simulator's, moved forward together: a test waits out
    Amazon's lag, a token's lifetime or the stamps of fresh changes without sleeping.
    Pass :meth:`now` to ``run_stream``."""

    def __init__(self, sim: Any) -> None:
        self.sim = sim
        self.ahead = timedelta(0)

    def advance(self, seconds: float) -> None:
        self.sim.client.advance_clock(seconds)
        self.ahead += timedelta(seconds=seconds)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.ahead


# The order path's kinds: what a test about orders, the outbox or infrastructure needs, without
# the report streams' runs competing for its worker processes.
ORDER_PATH = ("orders", "inventory", "listings")


def register(rt: Runtime, sim: Any, api_by_region: dict[str, str] | None = None,
             kinds: tuple[str, ...] | None = None) -> dict[str, int]:
    """Register every simulated seller; returns selling_partner_id -> seller id. With
    ``kinds``, only those kinds' streams (default: every stream a seller has)."""
    api_by_region = api_by_region or {}
    ids = {}
    with rt.engine.begin() as conn:
        for s in sim.world()["sellers"]:
            ids[s["selling_partner_id"]] = upsert_seller(
                conn, rt.keyring, selling_partner_id=s["selling_partner_id"], region=s["region"],
                marketplace_ids=s["marketplace_ids"], refresh_token=s["refresh_token"],
                orders_api_version=api_by_region.get(s["region"], "2026-01-01"),
                streams=[st for st in streams_for(s["marketplace_ids"])
                         if kinds is None or st.partition(":")[0] in kinds])
    return ids


def mirror(rt: Runtime, seller_id: int) -> dict[str, Any]:
    """{order id: (status, last_update_date, {item id: (qty ordered, qty shipped)})}."""
    # one snapshot for both reads: a worker may be committing pages meanwhile
    with rt.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, \
            conn.begin():
        orders = conn.execute(text(
            "SELECT amazon_order_id, order_status, last_update_date FROM orders "
            "WHERE seller_id = :s"), {"s": seller_id}).all()
        items = conn.execute(text(
            "SELECT amazon_order_id, order_item_id, quantity_ordered, quantity_shipped "
            "FROM order_items WHERE seller_id = :s"), {"s": seller_id}).all()
    out: dict[str, Any] = {o: (st, lud, {}) for o, st, lud in orders}
    for o, i, q, qs in items:
        out[o][2][i] = (q, qs)
    return out


def truth(sim: Any, spid: str) -> dict[str, Any]:
    out = {}
    for o in sim.client.truth(spid)["orders"]:
        lud = datetime.fromisoformat(o["LastUpdateDate"].replace("Z", "+00:00"))
        out[o["AmazonOrderId"]] = (
            V0_TO_MIRROR[o["OrderStatus"]], lud,
            {i["OrderItemId"]: (i["QuantityOrdered"], i["QuantityShipped"])
             for i in o["OrderItems"]})
    return out


def table(rt: Runtime, sql: str, **params: Any) -> list[Any]:
    with rt.engine.begin() as conn:
        return list(conn.execute(text(sql), params).all())


def report_mirror(rt: Runtime, seller_id: int) -> dict[str, Any]:
    """{order id: (status, last update, Counter of (sku, quantity ordered))}: what a report
    backfill can be compared on (report items have no OrderItemId)."""
    out: dict[str, Any] = {oid: (st, lud, Counter()) for oid, st, lud in table(
        rt, "SELECT amazon_order_id, order_status, last_update_date FROM orders "
            "WHERE seller_id = :s", s=seller_id)}
    for oid, sku, qty in table(rt, "SELECT amazon_order_id, seller_sku, quantity_ordered "
                                   "FROM order_items WHERE seller_id = :s", s=seller_id):
        out[oid][2][(sku, qty)] += 1
    return out


def report_truth(sim: Any, spid: str, since: datetime) -> dict[str, Any]:
    """The simulator's orders updated since ``since``, shaped as :func:`report_mirror`."""
    out = {}
    for o in sim.client.truth(spid)["orders"]:
        lud = datetime.fromisoformat(o["LastUpdateDate"].replace("Z", "+00:00"))
        if lud >= since:
            out[o["AmazonOrderId"]] = (V0_TO_MIRROR[o["OrderStatus"]], lud, Counter(
                (i["SellerSKU"], i["QuantityOrdered"]) for i in o["OrderItems"]))
    return out


@contextmanager
def statements_sent(conn: Connection) -> Iterator[list[str]]:
    """The SQL statements ``conn`` sends inside the block (SQLAlchemy's, not a raw
    psycopg cursor's), in order."""
    sent: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        sent.append(statement)

    event.listen(conn, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(conn, "before_cursor_execute", record)
