"""The one bulk write path: INSERT ... ON CONFLICT DO UPDATE ... WHERE the incoming row is newer.

Every mirrored table keeps the same rule: a row replaces the stored one only when its
Amazon "last updated" time is newer, or equal (or unknown) with different raw JSON. So an
overlapping window or a re-delivered task rewrites nothing, a late, older page never undoes
a newer one, and ``sync_version`` moves only when a row really changed. Callers own the
transaction (one per page).

Rows read from a report (``from_report=True``) are weaker at a tie: with the same "last
updated" time they replace only a row that also came from a report (``source = 'report'``),
because the API's documents are richer than a flat file's row. So a re-run backfill never
overwrites what the incremental API sync wrote.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, and_, func, or_
from sqlalchemy.dialects.postgresql import insert

from worker.db.models import SYNC_VERSION


def upsert_newer(
    conn: Connection,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: tuple[str, ...],
    updated: str,
    from_report: bool = False,
) -> list[tuple[Any, ...]]:
    """Write ``rows`` into ``model``'s table; return the keys of the rows actually written."""
    if not rows:
        return []
    batch = _newest_per_key(rows, keys, updated)
    stmt = insert(model).values(
        [{**r, "sync_version": SYNC_VERSION.next_value()} for r in batch])
    table, ex = model.__table__.c, stmt.excluded
    tie = and_(table[updated].is_not_distinct_from(ex[updated]),
               table["raw"].is_distinct_from(ex["raw"]))
    if from_report:
        tie = and_(tie, table["source"] == "report")
    newer = or_(
        table[updated] < ex[updated],
        and_(table[updated].is_(None), ex[updated].is_not(None)),
        tie,
    )
    changes: dict[str, Any] = {name: ex[name] for name in batch[0] if name not in keys}
    if "synced_at" in table:
        changes["synced_at"] = func.now()
    upsert = stmt.on_conflict_do_update(
        index_elements=[table[k] for k in keys],
        set_=changes | {"sync_version": ex.sync_version},
        where=newer,
    ).returning(*(table[k] for k in keys))
    return [tuple(r) for r in conn.execute(upsert)]


def _newest_per_key(
    rows: Sequence[Mapping[str, Any]], keys: tuple[str, ...], updated: str
) -> list[Mapping[str, Any]]:
    """ON CONFLICT cannot touch one row twice in a statement: keep each key's newest copy."""
    best: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        current = best.get(key)
        if current is None or _not_older(row[updated], current[updated]):
            best[key] = row
    return list(best.values())


def _not_older(a: Any, b: Any) -> bool:
    return b is None or (a is not None and a >= b)
