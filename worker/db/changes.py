"""The change feed's tables: reading ``spsync_changes()``, consumers' positions, pruning.

The triggers of migration 0009 write ``changes``; nothing in Python does. A position is one
number, ``txid * 10^19 + id`` (:func:`position_of`), so a consumer stores and compares a
single value. Why a reader never skips a change: docs/schema.md, "The change feed".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

SCALE = 10**19  # the migration's: an id is a bigint, below 10^19
CHANNEL = "spsync_changes"
PRUNE_BATCH = 10_000


@dataclass(frozen=True)
class Change:
    """One row of ``spsync_changes()``: ``key`` is the row's primary key without seller_id."""

    entity: str
    seller_id: int
    key: dict[str, Any]
    operation: str  # insert | update | delete
    position: int
    changed_at: datetime


@dataclass(frozen=True)
class ConsumerLag:
    name: str
    position: int
    behind: int  # changes after the position (readable now or not)
    oldest_unread: datetime | None  # changed_at of the first of them
    updated_at: datetime


def position_of(txid: int, id_: int) -> int:
    return txid * SCALE + id_


def split(position: int) -> tuple[int, int]:
    """``(txid, id)`` of a position."""
    return divmod(position, SCALE)


def parse_position(value: str) -> int:
    """An operator's ``--after``: a position as printed by the feed."""
    try:
        position = int(value.strip())
    except ValueError:
        raise ValueError(f"a position is a whole number, as the feed prints it; got {value!r}")\
            from None
    if not 0 <= position < 10**38:
        raise ValueError(f"a position is between 0 and 10^38; got {value!r}")
    return position


def read(conn: Connection, after: int, limit: int) -> list[Change]:
    """Up to ``limit`` changes after ``after`` that no running transaction can still add to."""
    rows = conn.execute(text(
        "SELECT entity, seller_id, key, operation, position, changed_at "
        "FROM spsync_changes(CAST(:after AS numeric), :limit)"),
        {"after": after, "limit": limit}).all()
    return [Change(r.entity, r.seller_id, r.key, r.operation, int(r.position), r.changed_at)
            for r in rows]


def latest(conn: Connection, count: int) -> list[Change]:
    """The last ``count`` readable changes, oldest first (``changes tail`` without --after)."""
    rows = conn.execute(text(
        "SELECT entity, seller_id, key, operation, txid, id, changed_at FROM changes "
        "WHERE txid < pg_snapshot_xmin(pg_current_snapshot())::text::bigint "
        "ORDER BY txid DESC, id DESC LIMIT :n"), {"n": count}).all()
    return [Change(r.entity, r.seller_id, r.key, r.operation, position_of(r.txid, r.id),
                   r.changed_at) for r in reversed(rows)]


def pending_after(conn: Connection, after: int) -> bool:
    """Whether changes exist after ``after`` that are not readable yet (their transaction, or
    an older one, is still running): then the follower looks again soon."""
    tx, id_ = split(after)
    return bool(conn.execute(text(
        "SELECT EXISTS (SELECT 1 FROM changes WHERE (txid, id) > (:tx, :id))"),
        {"tx": tx, "id": id_}).scalar())


def claim(conn: Connection, consumer: str) -> int:
    """The consumer's position, registering it at 0 (the start of the kept feed) if new, and
    its row locked until the transaction ends (one follower per name at a time)."""
    conn.execute(text("INSERT INTO feed_consumers (name) VALUES (:n) ON CONFLICT DO NOTHING"),
                 {"n": consumer})
    return int(conn.execute(text(
        "SELECT position FROM feed_consumers WHERE name = :n FOR UPDATE"),
        {"n": consumer}).scalar_one())


def advance(conn: Connection, consumer: str, position: int) -> None:
    """Store the consumer's position (never backwards)."""
    conn.execute(text(
        "UPDATE feed_consumers SET position = greatest(position, CAST(:p AS numeric)), "
        "updated_at = now() WHERE name = :n"), {"n": consumer, "p": position})


def lags(conn: Connection) -> list[ConsumerLag]:
    """Every consumer's position and how far behind it is."""
    rows = conn.execute(text(
        "SELECT f.name, f.position, f.updated_at, behind.n, behind.oldest "
        "FROM feed_consumers f CROSS JOIN LATERAL ("
        "  SELECT count(*) AS n, min(c.changed_at) AS oldest FROM changes c "
        "  WHERE (c.txid, c.id) > (div(f.position, CAST(:scale AS numeric))::bigint, "
        "                          mod(f.position, CAST(:scale AS numeric))::bigint)) behind "
        "ORDER BY f.name"), {"scale": SCALE}).all()
    return [ConsumerLag(r.name, int(r.position), int(r.n), r.oldest, r.updated_at)
            for r in rows]


def prune(conn: Connection, keep_days: float) -> int:
    """Delete the changes every registered consumer has passed that are older than
    ``keep_days``; in batches, oldest first. Return how many."""
    limit = conn.execute(text("SELECT min(position) FROM feed_consumers")).scalar()
    tx, id_ = split(int(limit)) if limit is not None else (2**63 - 1, 2**63 - 1)
    deleted = 0
    while True:
        n = conn.execute(text(
            "DELETE FROM changes WHERE (txid, id) IN ("
            "  SELECT txid, id FROM changes WHERE (txid, id) <= (:tx, :id) "
            "  AND changed_at < now() - make_interval(secs => :keep) "
            "  ORDER BY txid, id LIMIT :batch)"),
            {"tx": tx, "id": id_, "keep": keep_days * 86400.0, "batch": PRUNE_BATCH}).rowcount
        deleted += n or 0
        if not n or n < PRUNE_BATCH:
            return deleted
