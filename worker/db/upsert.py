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

How: every row written is numbered by the ``sync_version`` column default. Rows the table
does not hold yet (one primary-key probe for the batch) are ``COPY``-ed straight into it
inside a savepoint: what a plain
COPY costs, the ceiling. Should another transaction insert one of them meanwhile, the
savepoint is rolled back and they are merged with the rest. The rest is ``COPY``-ed into a
temporary staging table, then one statement empties it into the table: ``INSERT ... SELECT``
the staged rows that are new or newer (a row that would change nothing never reaches
``ON CONFLICT``, which would lock it and write WAL for it), ``ON CONFLICT ... DO UPDATE ...
WHERE`` the same rule (a concurrent writer may have passed it meanwhile). The staging table
is created once per session and table/column set (``ON COMMIT DELETE ROWS``): no catalog
churn per batch. How a batch starts depends on the table's last one for the same seller
(:data:`_WAY`): all new, COPY at once; none new, merge at once; else probe.
:func:`upsert_steps` is the same write as a generator that pauses once its new rows are all
sent into that COPY, before ending it: a report ingest reads the next batch while the server
stores them (``worker/sync/reports.py``). JSON is encoded by ``orjson`` (:func:`jsonb`).
``benchmarks/upsert.py`` measures it beside a plain ``COPY`` into the same table (figures in
``benchmarks/README.md``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Generator, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, TypeVar, cast

import orjson
import psycopg
from psycopg.types.json import Jsonb
from sqlalchemy import Connection, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB

from worker.metrics import ROWS_UPSERTED

_DIALECT = postgresql.dialect()  # type: ignore[no-untyped-call]
T = TypeVar("T")


def dumps(obj: Any) -> bytes | str:
    """JSON for a ``jsonb`` value: ``orjson`` (5x ``json.dumps`` on an order's document), or
    ``json.dumps`` for what orjson refuses (integers past 64 bits, lone surrogates), which
    then fails or passes exactly as before."""
    try:
        return orjson.dumps(obj, option=orjson.OPT_NON_STR_KEYS)
    except TypeError:
        return json.dumps(obj)


def jsonb(obj: Any) -> Jsonb:
    return Jsonb(obj, dumps=dumps)


def upsert_newer(
    conn: Connection,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: tuple[str, ...],
    updated: str | None,
    from_report: bool = False,
    inserted: bool = False,
    new: bool = False,
) -> list[tuple[Any, ...]]:
    """Write ``rows`` into ``model``'s table; return the keys of the rows actually written
    (``inserted``: each followed by whether the row is new rather than updated).

    ``updated=None`` (a table without an update time, e.g. order items): a row is rewritten
    when its ``raw`` differs. ``new``: the caller knows the rows are not stored yet (the
    items of an order it just inserted), so they are not looked up first.
    """
    return run(upsert_steps(conn, model, rows, keys=keys, updated=updated,
                            from_report=from_report, inserted=inserted, new=new))


def run(steps: Generator[None, None, T]) -> T:
    """A write given as steps (:func:`upsert_steps`), run to its end at once."""
    while True:
        try:
            next(steps)
        except StopIteration as done:
            return cast(T, done.value)


def upsert_steps(
    conn: Connection,
    model: Any,
    rows: Sequence[Mapping[str, Any]],
    *,
    keys: tuple[str, ...],
    updated: str | None,
    from_report: bool = False,
    inserted: bool = False,
    new: bool = False,
) -> Generator[None, None, list[tuple[Any, ...]]]:
    """:func:`upsert_newer` as a generator that pauses (yields) once its rows are all sent
    into a ``COPY`` straight into the table, before it ends it: the server stores them
    while the caller, which advances the generator, does other work (reads the next batch
    of a report). Nothing else may run on the connection before the next step. Returns
    what :func:`upsert_newer` returns."""
    if not rows:
        return []
    batch = _newest_per_key(rows, keys, updated)  # one statement touches each key once
    table = model.__table__
    fresh: list[Mapping[str, Any]] = []
    merged: list[tuple[Any, ...]] = []
    hint = (table.name, batch[0].get("seller_id"))  # one seller's backfill, another's updates
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        way = "copy" if new else _WAY.get(hint, "probe")
        if way == "copy":
            if (yield from _fresh(cur, table, batch)):
                fresh, batch = batch, []
            else:
                way = "probe"  # one of them is stored: find which
        if way == "probe":
            held = _stored_keys(cur, table, keys, batch)
            candidates = [r for r in batch if _key(r, keys) not in held]
            if candidates and _copy_fresh(cur, table, candidates):
                fresh, batch = candidates, [r for r in batch if _key(r, keys) in held]
        if batch:
            stage, columns = _staged(cur, table, batch)
            cur.execute(_merge_sql(table, stage, columns, keys, updated, from_report))
            merged = cur.fetchall()
    if not new:
        if len(_WAY) >= _WAYS_KEPT:
            _WAY.clear()  # a process that has seen that many sellers starts learning again
        _WAY[hint] = ("copy" if not batch else "probe"
                      if fresh or any(r[-1] for r in merged) else "merge")
    written = [(*_key(r, keys), True) for r in fresh] + merged
    ROWS_UPSERTED.labels(table.name).inc(len(written))  # counted before commit: may overcount
    return written if inserted else [r[:-1] for r in written]


# How this process wrote the last batch of each table for each seller, and so how it starts
# the next (a hint, never a rule: every way writes the same rows): "copy" when every row was
# new (COPY them straight in; a stored one rolls that back, then "probe"), "probe" when some
# were (look the keys up, COPY the new ones, merge the rest), "merge" when none was (merge
# them all: a stream of updates or re-sent rows pays no lookup). Per seller, because one
# worker process interleaves one seller's backfill (all new) with others' updates.
_WAY: dict[tuple[str, Any], str] = {}
_WAYS_KEPT = 100_000  # (table, seller) pairs remembered, ~10 MB at most


def _key(row: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(row[k] for k in keys)


def _stored_keys(cur: Any, table: Any, keys: tuple[str, ...],
                 rows: Sequence[Mapping[str, Any]]) -> set[tuple[Any, ...]]:
    """The keys of ``rows`` the table holds already (one primary-key probe per row, the
    keys sent as one array per column)."""
    arrays = ", ".join(f"CAST(%s AS {table.c[k].type.compile(dialect=_DIALECT)}[])"
                       for k in keys)
    names = ", ".join(_q(k) for k in keys)
    cur.execute(f"SELECT {names} FROM {_q(table.name)} WHERE ({names}) IN "  # noqa: S608
                f"(SELECT * FROM unnest({arrays}))", [[r[k] for r in rows] for k in keys])
    return set(cur.fetchall())


def _copy_fresh(cur: Any, table: Any, rows: Sequence[Mapping[str, Any]]) -> bool:
    """:func:`_fresh` at once, with no pause."""
    return run(_fresh(cur, table, rows))


def _fresh(cur: Any, table: Any,
           rows: Sequence[Mapping[str, Any]]) -> Generator[None, None, bool]:
    """``COPY`` rows the table did not hold straight into it (numbered by the column's
    default), as a plain COPY would, as steps: it pauses once every row is sent, before the
    ``COPY`` ends, so the server stores them meanwhile. True once stored; False, with
    nothing written, if another transaction inserted one of them meanwhile (then the caller
    merges them all)."""
    cur.execute("SAVEPOINT spsync_fresh")
    try:
        with _copying(cur, table, _q(table.name), list(rows[0]), rows):
            yield
    except psycopg.errors.UniqueViolation:
        cur.execute("ROLLBACK TO SAVEPOINT spsync_fresh")
        return False
    cur.execute("RELEASE SAVEPOINT spsync_fresh")
    return True


def insert_new(conn: Connection, model: Any, rows: Sequence[Mapping[str, Any]], *,
               keys: tuple[str, ...]) -> int:
    """Write the rows of ``rows`` whose key is not in ``model``'s table yet (a row never
    changes once written: ``report_rows``), each with the next ``sync_version``; return how
    many were written. Same staging as :func:`upsert_newer`."""
    if not rows:
        return 0
    table = model.__table__
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        stage, columns = _staged(cur, table, rows)
        cur.execute(f"{_insert_staged(table, stage, columns)} "
                    f"ON CONFLICT ({', '.join(_q(k) for k in keys)}) DO NOTHING")
        return int(cur.rowcount)


def delete_vanished(conn: Connection, model: Any, seller_id: int, parent: str,
                    parents: Iterable[str], child: str,
                    kept: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """Delete the seller's rows of ``model`` under ``parents`` (their ``parent`` column) whose
    ``(parent, child)`` pair is not among ``kept``: what Amazon no longer lists (an order's
    items, a shipment's items, a plan's shipments). One statement on the server: the kept
    pairs go as two arrays (a hashed subplan; neither key column is ever NULL, so ``NOT IN``
    means what it says). Returns the deleted pairs."""
    ids = sorted(set(parents))
    if not ids:
        return []
    pairs = list(kept)
    table, p, c = _q(model.__tablename__), _q(parent), _q(child)
    rows = conn.execute(text(
        f"DELETE FROM {table} o WHERE o.seller_id = :s "  # noqa: S608 (model names)
        f"AND o.{p} = ANY(CAST(:ids AS text[])) AND (o.{p}, o.{c}) NOT IN ("
        f"SELECT * FROM unnest(CAST(:ps AS text[]), CAST(:cs AS text[]))) "
        f"RETURNING o.{p}, o.{c}"),
        {"s": seller_id, "ids": ids, "ps": [a for a, _ in pairs], "cs": [b for _, b in pairs]})
    return [(str(a), str(b)) for a, b in rows]


def _staged(cur: Any, table: Any, rows: Sequence[Mapping[str, Any]]) -> tuple[str, list[str]]:
    """``rows`` ``COPY``-ed into the session's staging table for their columns; its name and
    the columns."""
    columns = list(rows[0])
    stage = _stage(cur, table.name, columns)
    _copy(cur, table, stage, columns, rows)
    return stage, columns


def _copy(cur: Any, table: Any, target: str, columns: list[str],
          rows: Sequence[Mapping[str, Any]]) -> None:
    with _copying(cur, table, target, columns, rows):
        pass


@contextmanager
def _copying(cur: Any, table: Any, target: str, columns: list[str],
             rows: Sequence[Mapping[str, Any]]) -> Iterator[None]:
    """``rows`` sent by ``COPY`` into ``target``; the ``COPY`` ends (and its errors arrive)
    when the block does."""
    as_json = [isinstance(table.c[name].type, JSONB) for name in columns]
    with cur.copy(f"COPY {target} ({', '.join(_q(c) for c in columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row([jsonb(row[c]) if j else row[c]
                            for c, j in zip(columns, as_json, strict=True)])
        yield


def _stage(cur: Any, table: str, columns: list[str]) -> str:
    """The session's staging table for ``columns`` of ``table``, created on first use; it is
    empty at every commit, and the merge empties it (``DELETE ... RETURNING``) before."""
    digest = hashlib.blake2s(",".join(columns).encode(), digest_size=4).hexdigest()
    name = f"spsync_in_{table[:40]}_{digest}"
    cur.execute(f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS AS "  # noqa: S608
                f"SELECT {', '.join(_q(c) for c in columns)} FROM {_q(table)} WITH NO DATA")
    return name


def _merge_sql(table: Any, stage: str, columns: list[str], keys: tuple[str, ...],
               updated: str | None, from_report: bool) -> str:
    """Empty ``stage`` into the table: the rows new or newer than the stored ones, inserted
    or updated under the newer-wins rule (checked again by ``ON CONFLICT``'s ``WHERE``).
    Each returned key is followed by ``xmax = 0``, true for a new row (an updated row's
    version carries the updating transaction in ``xmax``)."""
    returning = [f"t.{_q(k)}" for k in keys] + ["t.xmax = 0"]
    sets = [f"{_q(c)} = excluded.{_q(c)}" for c in columns if c not in keys]
    sets.append("sync_version = excluded.sync_version")
    if "synced_at" in table.c:
        sets.append("synced_at = now()")
    same_key = " AND ".join(f"t.{_q(k)} = i.{_q(k)}" for k in keys)
    return (
        f"{_insert_staged(table, stage, columns)} "  # noqa: S608 (model names)
        f"WHERE COALESCE((SELECT ({_newer('i', updated, from_report)}) IS TRUE "
        f"FROM {_q(table.name)} t WHERE {same_key}), true) "
        f"ON CONFLICT ({', '.join(_q(k) for k in keys)}) DO UPDATE SET {', '.join(sets)} "
        f"WHERE {_newer('excluded', updated, from_report)} "
        f"RETURNING {', '.join(returning)}"
    )


def _insert_staged(table: Any, stage: str, columns: list[str]) -> str:
    """``INSERT INTO`` the table (alias ``t``) ``SELECT`` the rows emptied out of ``stage``
    (alias ``i``), each numbered by the ``sync_version`` default (also in ``excluded``, which
    an update takes); the caller adds its conditions."""
    names = ", ".join(_q(c) for c in columns)
    return (f"WITH i AS (DELETE FROM {stage} RETURNING {names}) "  # noqa: S608 (model names)
            f"INSERT INTO {_q(table.name)} AS t ({names}) SELECT {names} FROM i")


def _newer(incoming: str, updated: str | None, from_report: bool) -> str:
    """Whether the ``incoming`` row replaces the stored ``t``: its update time is newer, or
    equal (or both unknown) with a different ``raw``; from a report, only a report's row."""
    differs = f"t.raw IS DISTINCT FROM {incoming}.raw"
    if updated is None:
        return differs
    u = _q(updated)
    tie = f"t.{u} IS NOT DISTINCT FROM {incoming}.{u} AND {differs}"
    if from_report:
        tie += " AND t.source = 'report'"
    return (f"t.{u} < {incoming}.{u} OR (t.{u} IS NULL AND {incoming}.{u} IS NOT NULL) "
            f"OR ({tie})")


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
