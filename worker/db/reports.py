"""The ``reports`` table (one row per report asked of Amazon) and ``report_rows``.

A report's row is committed as soon as Amazon returns its id, so whoever runs next polls
that report instead of creating another. Counters are per download attempt for what was
read and rejected, cumulative for what was written (a re-download rewrites nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert

from worker.db.models import Report, ReportRow
from worker.db.upsert import insert_new

FINISHED = ("ingested", "no_data")


@dataclass(frozen=True)
class ReportRequest:
    """What is asked of createReport (and what makes two requests the same)."""

    report_type: str
    marketplace_ids: tuple[str, ...]
    start: datetime | None = None
    end: datetime | None = None
    options: tuple[tuple[str, str], ...] = ()
    purpose: str = "adhoc"


@dataclass(frozen=True)
class ReportRecord:
    id: int
    seller_id: int
    report_id: str
    report_type: str
    marketplace_ids: list[str]
    processing_status: str
    document_id: str | None
    ingest_status: str
    rows_read: int
    rows_written: int
    rows_rejected: int
    error: str | None
    # what it was asked for (a sink keying rows by the request's period reads these)
    data_start: datetime | None = None
    data_end: datetime | None = None
    options: dict[str, str] = field(default_factory=dict)
    polls: int = 0  # getReport calls so far
    requested_at: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.ingest_status in FINISHED

    def age(self) -> float:
        """Seconds since it was asked for (0 if unknown)."""
        if self.requested_at is None:
            return 0.0
        return max(0.0, (datetime.now(UTC) - self.requested_at).total_seconds())


def reusable(conn: Connection, seller_id: int, req: ReportRequest) -> ReportRecord | None:
    """The newest report for this exact request, asked for the same purpose, that did not
    fail (done or in progress)."""
    row = conn.execute(
        select(*Report.__table__.c).where(
            Report.seller_id == seller_id,
            Report.report_type == req.report_type,
            Report.marketplace_ids == list(req.marketplace_ids),
            Report.data_start_time.is_not_distinct_from(req.start),
            Report.data_end_time.is_not_distinct_from(req.end),
            Report.report_options == dict(req.options),
            Report.purpose == req.purpose,
            Report.ingest_status != "failed",
        ).order_by(Report.id.desc()).limit(1)
    ).first()
    return _record(row) if row else None


def record_request(conn: Connection, seller_id: int, req: ReportRequest,
                   report_id: str) -> ReportRecord:
    new_id = conn.execute(insert(Report).values(
        seller_id=seller_id, report_type=req.report_type,
        marketplace_ids=list(req.marketplace_ids), data_start_time=req.start,
        data_end_time=req.end, report_options=dict(req.options), purpose=req.purpose,
        report_id=report_id,
    ).returning(Report.id)).scalar_one()
    return get(conn, new_id)


def record_found(conn: Connection, seller_id: int, *, report_id: str, report_type: str,
                 document_id: str, marketplace_ids: list[str],
                 issued_at: datetime | None) -> ReportRecord:
    """A DONE report Amazon made on its own (a settlement), recorded once: its row, new or
    the one recorded before (whose ``ingest_status`` says whether it was downloaded)."""
    conn.execute(pg_insert(Report).values(
        seller_id=seller_id, report_type=report_type, marketplace_ids=marketplace_ids,
        purpose="found", report_id=report_id, processing_status="DONE",
        document_id=document_id, processing_end_time=issued_at,
    ).on_conflict_do_nothing(index_elements=[Report.report_id]))
    row = conn.execute(select(*Report.__table__.c).where(Report.report_id == report_id,
                                                         Report.seller_id == seller_id)).first()
    if row is None:  # the id is another seller's
        raise ValueError(f"report {report_id[:40]} belongs to another seller")
    return _record(row)


def get(conn: Connection, id_: int) -> ReportRecord:
    return _record(conn.execute(select(*Report.__table__.c).where(Report.id == id_)).one())


def record_status(conn: Connection, id_: int, status: str, document_id: str | None,
                  processing_end: datetime | None) -> None:
    conn.execute(update(Report).where(Report.id == id_).values(
        processing_status=status, document_id=document_id, processing_end_time=processing_end,
        polls=Report.polls + 1))


def start_download(conn: Connection, id_: int) -> None:
    conn.execute(update(Report).where(Report.id == id_).values(
        ingest_status="ingesting", downloads=Report.downloads + 1, rows_read=0,
        rows_rejected=0, error=None))


def add_counts(conn: Connection, id_: int, *, read: int, written: int, rejected: int) -> None:
    conn.execute(update(Report).where(Report.id == id_).values(
        rows_read=Report.rows_read + read, rows_written=Report.rows_written + written,
        rows_rejected=Report.rows_rejected + rejected))


def finish(conn: Connection, id_: int, ingest_status: str, error: str | None = None) -> None:
    conn.execute(update(Report).where(Report.id == id_).values(
        ingest_status=ingest_status, error=error,
        ingested_at=func.now() if ingest_status in FINISHED else None))


def add_rows(conn: Connection, report: ReportRecord, rows: Sequence[dict[str, Any]]) -> int:
    """Keep rows (``line``, ``record_key``, ``data``, ``error``); a re-download adds none."""
    own = {"report_id": report.id, "seller_id": report.seller_id,
           "report_type": report.report_type}
    return insert_new(conn, ReportRow, [{**own, **r} for r in rows], keys=("report_id", "line"))


def _record(row: Any) -> ReportRecord:
    return ReportRecord(
        id=row.id, seller_id=row.seller_id, report_id=row.report_id,
        report_type=row.report_type, marketplace_ids=list(row.marketplace_ids),
        processing_status=row.processing_status, document_id=row.document_id,
        ingest_status=row.ingest_status, rows_read=row.rows_read,
        rows_written=row.rows_written, rows_rejected=row.rows_rejected, error=row.error,
        data_start=row.data_start_time, data_end=row.data_end_time,
        options=dict(row.report_options or {}), polls=row.polls,
        requested_at=row.requested_at,
    )
