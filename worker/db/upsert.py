"""The one bulk write path: INSERT ... ON CONFLICT DO UPDATE ... WHERE the incoming row is newer.

Every mirrored table keeps the same rule: a row replaces the stored one only when its
Amazon "last updated" time is newer, or equal (or unknown) with different raw JSON. So an
overlapping window or a re-delivered task rewrites nothing, a late, older page never undoes
a newer one, and ``sync_version`` moves only when a row really changed. Callers own the
transaction (one per page or batch).

Rows read from a report (``from_report=True``) are weaker at a tie: with the same "last
updated" time they replace only a row that also came from a report (``source = 'report'``),
because the API's documents are richer than a flat file's row. So a re-run backfill never
overwrites what the incremental API sync wrote.

How: the batch is ``COPY``-ed into a temporary table, then one ``INSERT ... SELECT ... ON
CONFLICT`` merges it. ``benchmarks/upsert.py`` measured this against a multi-row ``VALUES``
statement (SQLAlchemy compiles, and psycopg re-parses, one bind parameter per cell: slow
for thousands of rows) and against psycopg's pipelined ``executemany``; COPY + merge was the
fastest (figures in ``benchmarks/README.md``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb
from sqlalchemy import Connection
from sqlalchemy.dialects.postgresql import JSONB

from worker.metrics import ROWS_UPSERTED

STAGE = "spsync_incoming"


def upsert_newer(
    conn: Connection,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: tuple[str, ...],
    updated: str | None,
    from_report: bool = False,
) -> list[tuple[Any, ...]]:
    """Write ``rows`` into ``model``'s table; return the keys of the rows actually written.

    ``updated=None`` (a table without an update time, e.g. order items): a row is rewritten
    when its ``raw`` differs.
    """
    if not rows:
        return []
    batch = _newest_per_key(rows, keys, updated)  # one statement touches each key once
    table = model.__table__
    columns = list(batch[0])
    as_json = [isinstance(table.c[name].type, JSONB) for name in columns]
    names = ", ".join(_q(c) for c in columns)
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    with cursor as cur:
        cur.execute(f"CREATE TEMP TABLE {STAGE} ON COMMIT DROP AS "  # noqa: S608 (model names)
                    f"SELECT {names} FROM {_q(table.name)} WITH NO DATA")
        with cur.copy(f"COPY {STAGE} ({names}) FROM STDIN") as copy:
            for row in batch:
                copy.write_row([Jsonb(row[c]) if j else row[c]
                                for c, j in zip(columns, as_json, strict=True)])
        cur.execute(_merge_sql(table, columns, keys, updated, from_report))
        written: list[tuple[Any, ...]] = cur.fetchall()
        cur.execute(f"DROP TABLE {STAGE}")
    ROWS_UPSERTED.labels(table.name).inc(len(written))  # counted before commit: may overcount
    return written


def _merge_sql(table: Any, columns: list[str], keys: tuple[str, ...], updated: str | None,
               from_report: bool) -> str:
    """``INSERT ... SELECT FROM`` the staged rows, with the newer-wins rule as the WHERE."""
    t = "t"
    differs = f"{t}.raw IS DISTINCT FROM excluded.raw"
    if updated is None:
        newer = differs
    else:
        u = _q(updated)
        tie = f"{t}.{u} IS NOT DISTINCT FROM excluded.{u} AND {differs}"
        if from_report:
            tie += f" AND {t}.source = 'report'"
        newer = (f"{t}.{u} < excluded.{u} OR ({t}.{u} IS NULL AND excluded.{u} IS NOT NULL) "
                 f"OR ({tie})")
    sets = [f"{_q(c)} = excluded.{_q(c)}" for c in columns if c not in keys]
    sets.append("sync_version = excluded.sync_version")
    if "synced_at" in table.c:
        sets.append("synced_at = now()")
    names = ", ".join(_q(c) for c in columns)
    return (
        f"INSERT INTO {_q(table.name)} AS {t} ({names}, sync_version) "  # noqa: S608
        f"SELECT {names}, nextval('sync_version_seq') FROM {STAGE} "
        f"ON CONFLICT ({', '.join(_q(k) for k in keys)}) DO UPDATE SET {', '.join(sets)} "
        f"WHERE {newer} RETURNING {', '.join(f'{t}.{_q(k)}' for k in keys)}"
    )


def _q(name: str) -> str:
    """A column or table name from the model (never from data), quoted."""
    return '"' + name.replace('"', '""') + '"'


def _newest_per_key(
    rows: Sequence[Mapping[str, Any]], keys: tuple[str, ...], updated: str | None
) -> list[Mapping[str, Any]]:
    """ON CONFLICT cannot touch one row twice in a statement: keep each key's newest copy
    (the last one sent, without an update time)."""
    best: dict[tuple[Any, ...], Mapping[str, Any]] = {}
    for row in rows:
        key = tuple(row[k] for k in keys)
        current = best.get(key)
        if current is None or updated is None or _not_older(row[updated], current[updated]):
            best[key] = row
    return list(best.values())


def _not_older(a: Any, b: Any) -> bool:
    return b is None or (a is not None and a >= b)
