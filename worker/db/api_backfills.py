"""``api_backfills``: the checkpoints of backfills through a stream's own API.

One row per (seller, stream, ``--since``): the same command finds its row and resumes it, a
finished one is not read again, and a later ``--until`` extends it from where it ended.
Like :mod:`worker.db.state`, functions here never begin or commit.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Connection, func, select, update
from sqlalchemy.dialects.postgresql import insert

from worker.db.models import ApiBackfill
from worker.db.state import Checkpoint


@dataclass(frozen=True)
class Job:
    seller_id: int
    stream: str
    since: datetime
    until: datetime
    status: str
    cursor: datetime | None
    pages: int
    rows: int

    @property
    def done(self) -> bool:
        return self.status == "done"


def open_job(conn: Connection, seller_id: int, stream: str, since: datetime,
             until: datetime) -> Job:
    """The backfill of ``stream`` from ``since``, created or found, reaching at least
    ``until``: a known one asked to go further is running again from where it ended."""
    stmt = insert(ApiBackfill).values(seller_id=seller_id, stream=stream, since=since,
                                      until=until)
    conn.execute(stmt.on_conflict_do_nothing())
    row = conn.execute(
        select(*ApiBackfill.__table__.c).where(*_key(seller_id, stream, since))
        .with_for_update()
    ).one()
    job = Job(row.seller_id, row.stream, row.since, row.until, row.status, row.cursor,
              row.pages, row.rows_written)
    if until <= job.until:
        return job
    conn.execute(update(ApiBackfill).where(*_key(seller_id, stream, since)).values(
        until=until, status="running", finished_at=None, updated_at=func.now()))
    return dataclasses.replace(job, until=until, status="running")


def _key(seller_id: int, stream: str, since: datetime) -> tuple[ColumnElement[bool], ...]:
    return (ApiBackfill.seller_id == seller_id, ApiBackfill.stream == stream,
            ApiBackfill.since == since)


@dataclass(frozen=True)
class JobCheckpoints:
    """A backfill's checkpoint (:class:`worker.sync.runner.Checkpoints`)."""

    seller_id: int
    stream: str
    since: datetime

    def load(self, conn: Connection) -> Checkpoint:
        row = conn.execute(
            select(ApiBackfill.cursor, ApiBackfill.window_start, ApiBackfill.window_end,
                   ApiBackfill.next_token).where(*_key(self.seller_id, self.stream, self.since))
        ).one()
        return Checkpoint(*row)

    def save(self, conn: Connection, cp: Checkpoint, rows: int) -> None:
        conn.execute(update(ApiBackfill).where(*_key(self.seller_id, self.stream, self.since))
                     .values(cursor=cp.cursor, window_start=cp.window_start,
                             window_end=cp.window_end, next_token=cp.next_token,
                             pages=ApiBackfill.pages + 1,
                             rows_written=ApiBackfill.rows_written + rows,
                             updated_at=func.now()))


def finish(conn: Connection, seller_id: int, stream: str, since: datetime, *,
           error: str | None) -> None:
    """Mark it ``done`` (or ``failed`` with ``error``: the same command resumes it)."""
    values: dict[str, object] = {"updated_at": func.now(), "error": error}
    values |= ({"status": "done", "finished_at": func.now()} if error is None
               else {"status": "failed"})
    conn.execute(update(ApiBackfill).where(*_key(seller_id, stream, since)).values(values))
