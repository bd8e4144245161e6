"""Writing the money tables: transactions with their breakdowns, and payout groups.

Neither Amazon document has an update time, so a row is rewritten when its JSON differs
(``upsert_newer`` with ``updated=None``); a transaction's breakdowns are replaced whenever
the transaction itself was written, in the same transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import Connection, delete, insert

from worker.db.models import FinancialBreakdown, FinancialEventGroup, FinancialTransaction
from worker.db.rows import BreakdownRow, EventGroupRow, TransactionRow, with_seller
from worker.db.upsert import upsert_newer


def upsert_transactions(conn: Connection, seller_id: int,
                        rows: Sequence[TransactionRow]) -> set[str]:
    """Insert or refresh transactions; the ids actually written (new or changed)."""
    written = upsert_newer(conn, FinancialTransaction, [with_seller(r, seller_id) for r in rows],
                           keys=("seller_id", "transaction_id"), updated=None)
    return {transaction_id for _, transaction_id in written}


def replace_breakdowns(conn: Connection, seller_id: int, transaction_ids: set[str],
                       rows: Sequence[BreakdownRow]) -> int:
    """Make the breakdowns of ``transaction_ids`` exactly their rows in ``rows``."""
    if not transaction_ids:
        return 0
    conn.execute(delete(FinancialBreakdown).where(
        FinancialBreakdown.seller_id == seller_id,
        FinancialBreakdown.transaction_id.in_(transaction_ids)))
    mine = [{**asdict(r), "seller_id": seller_id} for r in rows
            if r.transaction_id in transaction_ids]
    if mine:
        conn.execute(insert(FinancialBreakdown), mine)
    return len(mine)


def upsert_event_groups(conn: Connection, seller_id: int, rows: Sequence[EventGroupRow]) -> int:
    """Insert or refresh payout groups; how many were written."""
    return len(upsert_newer(conn, FinancialEventGroup, [with_seller(r, seller_id) for r in rows],
                            keys=("seller_id", "financial_event_group_id"), updated=None))
