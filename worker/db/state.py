"""Sync state (cursor + checkpoint per seller/stream), run history, and the per-stream lock.

Transactions, one rule: **functions here never begin or commit; the caller owns the
transaction.** A page's rows, its checkpoint and its run counters commit together because
the runner writes them in one. The exception is the lock pair, :func:`try_lock` and
:func:`unlock`: an advisory lock is session-level by nature (it must outlive the run's many
transactions), so each takes or drops it in a short transaction of its own, together with
the operators' ``locked_by`` note. Call them with no transaction open.

Scheduling: ``sync_state`` is a :class:`~worker.db.workqueue.WorkQueue` on ``due_at``. The
dispatcher claims due pairs in batches (:func:`claim_due`), moving ``due_at`` one hold
ahead; a finished sync sets it one interval ahead (:func:`finish_sync`). It counts no
attempts and parks nothing: a failed sync comes due again after its interval, Celery's
retry counts the task's attempts, and ``sync_runs`` keeps every run.

Exclusion: a sync holds a session-level advisory lock on the connection it writes its pages
with. Postgres drops the lock the moment that connection dies (a SIGKILLed worker included),
and a connection that lost its lock also lost the ability to commit pages, so two workers can
never interleave pages of one (seller, stream). ``locked_by``/``locked_at`` only tell
operators who holds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, and_, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.sql.dml import ReturningUpdate

from worker.db.models import Seller, SyncRun, SyncState
from worker.db.workqueue import WorkQueue

QUEUE = WorkQueue(SyncState, SyncState.due_at)


@dataclass(frozen=True)
class Checkpoint:
    cursor: datetime | None
    window_start: datetime | None
    window_end: datetime | None
    next_token: str | None


def ensure_streams(conn: Connection, seller_id: int, streams: list[str]) -> None:
    """Create the seller's missing streams, due now in the order given (a millisecond apart):
    the dispatcher claims the oldest due first, so a new seller's orders, inventory and
    listings (first in ``registry.streams_for``) are queued before its slow report streams."""
    conn.execute(
        pg_insert(SyncState)
        .values([{"seller_id": seller_id, "stream": s,
                  "due_at": func.now() + timedelta(milliseconds=n)}
                 for n, s in enumerate(streams)])
        .on_conflict_do_nothing()
    )


def make_stream_due(conn: Connection, seller_id: int, stream: str) -> None:
    """One stream of the seller is due now (e.g. a notification said it changed)."""
    conn.execute(_state(update(SyncState), seller_id, stream).values(due_at=func.now()))


def make_due(conn: Connection, seller_id: int) -> None:
    """Every stream of the seller is due now (a seller just connected or re-connected)."""
    conn.execute(update(SyncState).where(SyncState.seller_id == seller_id)
                 .values(due_at=func.now()))


def _lock_key(seller_id: int, stream: str) -> Any:
    return func.hashtextextended(f"spsync:{seller_id}:{stream}", 0)


def try_lock(conn: Connection, seller_id: int, stream: str, worker: str) -> bool:
    """Take the (seller, stream) lock on ``conn``'s session; record who holds it. Commits
    (the lock functions are the exception to the module's rule)."""
    with conn.begin():
        got = conn.execute(select(func.pg_try_advisory_lock(_lock_key(seller_id, stream)))).scalar()
        if got:
            conn.execute(_state(update(SyncState), seller_id, stream).values(
                locked_by=worker, locked_at=func.now()))
    return bool(got)


def unlock(conn: Connection, seller_id: int, stream: str) -> None:
    """Drop the lock taken by :func:`try_lock` and its note. Commits, as that does."""
    with conn.begin():
        conn.execute(_state(update(SyncState), seller_id, stream).values(
            locked_by=None, locked_at=None))
        conn.execute(select(func.pg_advisory_unlock(_lock_key(seller_id, stream))))


def load_checkpoint(conn: Connection, seller_id: int, stream: str) -> Checkpoint:
    row = conn.execute(
        select(SyncState.cursor, SyncState.window_start, SyncState.window_end,
               SyncState.next_token)
        .where(SyncState.seller_id == seller_id, SyncState.stream == stream)
    ).one()
    return Checkpoint(*row)


def save_checkpoint(conn: Connection, seller_id: int, stream: str, cp: Checkpoint) -> None:
    """Write the checkpoint; call inside the transaction that wrote the page's rows."""
    conn.execute(_state(update(SyncState), seller_id, stream).values(
        cursor=cp.cursor, window_start=cp.window_start, window_end=cp.window_end,
        next_token=cp.next_token, updated_at=func.now(),
        pages_in_window=(SyncState.pages_in_window + 1) if cp.next_token else 0,
    ))


def disable_stream(conn: Connection, seller_id: int, stream: str, reason: str) -> None:
    """Stop scheduling one stream of the seller (Amazon refused it); the others go on."""
    conn.execute(_state(update(SyncState), seller_id, stream).values(
        disabled_reason=reason[:500], disabled_at=func.now(), updated_at=func.now()))


def enable_streams(conn: Connection, seller_id: int) -> None:
    """Schedule every stream of the seller again, the refused ones included."""
    conn.execute(update(SyncState).where(SyncState.seller_id == seller_id,
                                         SyncState.disabled_reason.is_not(None))
                 .values(disabled_reason=None, disabled_at=None, updated_at=func.now()))


def forget_token(conn: Connection, seller_id: int, stream: str) -> None:
    """Drop the stream's next-page token (it belongs to an API the stream left): its window
    is read again from its start."""
    conn.execute(_state(update(SyncState), seller_id, stream).values(
        next_token=None, pages_in_window=0, updated_at=func.now()))


def finish_sync(
    conn: Connection, seller_id: int, stream: str, *, next_due_in: timedelta, error: str | None
) -> None:
    values: dict[str, Any] = {"due_at": func.now() + next_due_in, "updated_at": func.now()}
    if error is None:
        values |= {"last_success_at": func.now(), "last_error": None}
    else:
        values |= {"last_error": error[:2000], "last_error_at": func.now()}
    conn.execute(_state(update(SyncState), seller_id, stream).values(**values))


def never_synced(conn: Connection, seller_id: int, streams: list[str]) -> list[str]:
    """Those of ``streams`` the seller has, not disabled, that never succeeded."""
    if not streams:
        return []
    return list(conn.execute(select(SyncState.stream).where(
        SyncState.seller_id == seller_id, SyncState.stream.in_(streams),
        SyncState.last_success_at.is_(None), SyncState.disabled_reason.is_(None),
    ).order_by(SyncState.stream)).scalars())


def rearm(conn: Connection, seller_id: int, stream: str, within: timedelta) -> None:
    """Make sure the pair comes due again within ``within`` (a claim may have pushed it out).

    Called when a claimed sync found its lock taken: if the holder finished in between, its
    own ``finish_sync`` may already be overwritten by the claim, and nothing would re-arm it.
    """
    conn.execute(_state(update(SyncState), seller_id, stream).values(QUEUE.due_within(within)))


def claim_statement(
    now: datetime, *, limit: int, hold: timedelta,
    regions: tuple[str, ...] = ("NA", "EU", "FE"), seller_id: int | None = None,
) -> ReturningUpdate[Any]:
    """The one statement behind :func:`claim_due` (also what its plan test EXPLAINs).

    Rows: ``(seller_id, stream, due_at before the claim)``.
    """
    where: list[ColumnElement[bool]] = [Seller.enabled.is_(True), Seller.region.in_(regions),
                                        SyncState.disabled_reason.is_(None)]
    if seller_id is not None:
        where.append(SyncState.seller_id == seller_id)
    return QUEUE.claim(now, lease=hold, limit=limit, where=where,
                       join=(Seller, Seller.id == SyncState.seller_id))


def claim_due(
    conn: Connection, now: datetime, *, limit: int, hold: timedelta,
    regions: tuple[str, ...] = ("NA", "EU", "FE"), seller_id: int | None = None,
) -> list[tuple[int, str]]:
    """Due (seller, stream) pairs of enabled sellers, oldest first; their ``due_at`` moves
    ``hold`` ahead.

    ``FOR UPDATE SKIP LOCKED`` lets several dispatchers run at once without double-enqueuing.
    One statement claims the whole batch: an UPDATE per claimed pair cost ~0.5 ms each,
    0.28 s of a 0.73 s tick at 10,000 sellers (``benchmarks/scale.py``).
    """
    stmt = claim_statement(now, limit=limit, hold=hold, regions=regions, seller_id=seller_id)
    rows = conn.execute(stmt).all()
    return [(int(a), str(b)) for a, b, _ in sorted(rows, key=lambda r: (r[2], r[0], r[1]))]


def start_run(conn: Connection, seller_id: int, stream: str, worker: str) -> int:
    return int(conn.execute(
        insert(SyncRun).values(seller_id=seller_id, stream=stream, worker=worker)
        .returning(SyncRun.id)
    ).scalar_one())


def reap_lost_runs(conn: Connection, seller_id: int, stream: str) -> list[int]:
    """Mark runs left 'running' by a dead worker as failed (call while holding the lock);
    their ids."""
    result = conn.execute(
        update(SyncRun)
        .where(SyncRun.seller_id == seller_id, SyncRun.stream == stream,
               SyncRun.status == "running")
        .values(status="failed", finished_at=func.now(), error_type="WorkerLost",
                error="the worker running this sync died; resumed from its checkpoint")
        .returning(SyncRun.id)
    )
    return [int(i) for i in result.scalars()]


def add_to_run(conn: Connection, run_id: int, **counts: int) -> None:
    """Increment a run's counters (inside the page transaction, so they match the rows)."""
    conn.execute(update(SyncRun).where(SyncRun.id == run_id).values(
        **{k: getattr(SyncRun, k) + v for k, v in counts.items()}))


def count_calls(conn: Connection, run_id: int, calls: int) -> None:
    """Raise a run's ``api_calls`` to ``calls`` (what it sent, counted at call time)."""
    conn.execute(update(SyncRun).where(SyncRun.id == run_id).values(
        api_calls=func.greatest(SyncRun.api_calls, calls)))


def finish_run(
    conn: Connection, run_id: int, status: str, *, error: BaseException | None = None,
    **counts: int,
) -> None:
    values: dict[str, Any] = {"status": status, "finished_at": func.now(), **counts}
    if error is not None:
        values |= {"error_type": type(error).__name__, "error": str(error)[:2000]}
    conn.execute(update(SyncRun).where(SyncRun.id == run_id).values(**values))


def _state(stmt: Any, seller_id: int, stream: str) -> Any:
    return stmt.where(and_(SyncState.seller_id == seller_id, SyncState.stream == stream))


def ping(conn: Connection) -> None:
    conn.execute(text("SELECT 1"))
