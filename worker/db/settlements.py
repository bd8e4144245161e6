"""Writing a settlement: its summary row and all its lines, in the caller's transaction.

A settlement is replaced whole when a report of it is ingested, unless the stored issue is
newer (Amazon re-issues a settlement as a new report; reports are listed newest first, so
an older issue can be read after a newer one and must change nothing).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert

from worker.db.models import SYNC_VERSION, Report, Settlement, SettlementLine
from worker.db.reports import ReportRecord


def replace(conn: Connection, report: ReportRecord, summary: dict[str, Any],
            lines: Sequence[dict[str, Any]]) -> int:
    """Store ``report``'s settlement; the lines written (0 when a newer issue is stored)."""
    sid = summary["settlement_id"]
    issued = conn.execute(select(Report.processing_end_time)
                          .where(Report.id == report.id)).scalar_one_or_none()
    current = conn.execute(
        select(Settlement.report_id, Settlement.issued_at).where(
            Settlement.seller_id == report.seller_id, Settlement.settlement_id == sid)
        .with_for_update()).first()
    if current is not None and current.report_id != report.report_id and issued is not None \
            and current.issued_at is not None and issued < current.issued_at:
        return 0
    values = {**summary, "report_id": report.report_id, "issued_at": issued,
              "lines": len(lines), "sync_version": SYNC_VERSION.next_value()}
    stmt = pg_insert(Settlement).values(seller_id=report.seller_id, **values)
    conn.execute(stmt.on_conflict_do_update(
        index_elements=[Settlement.seller_id, Settlement.settlement_id],
        set_={k: stmt.excluded[k] for k in values if k != "settlement_id"}))
    conn.execute(delete(SettlementLine).where(SettlementLine.seller_id == report.seller_id,
                                              SettlementLine.settlement_id == sid))
    if lines:
        conn.execute(insert(SettlementLine), [
            {**line, "seller_id": report.seller_id, "settlement_id": sid} for line in lines])
    return len(lines)
