"""money: ``financial_transactions`` (+ their breakdowns) and ``financial_event_groups``

Revision ID: 0010
Revises: 0009

Finances 2024-06-19 ``listTransactions`` fills ``financial_transactions`` (one row per
transaction, its related identifiers as columns) and ``financial_transaction_breakdowns``
(every node of its breakdown trees, the transaction's own and each item's, with typed
amounts); v0 ``listFinancialEventGroups`` fills ``financial_event_groups`` (payouts). Both
top-level tables get the change feed's triggers (``0009_change_feed``); breakdowns change
only together with their transaction, whose change a reader follows (docs/schema.md).
"""

from __future__ import annotations

import importlib

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

_feed = importlib.import_module("worker.db.migrations.versions.0009_change_feed")
_JSONB = postgresql.JSONB(astext_type=sa.Text())
FED = {
    "financial_transactions": ("transaction_id",),
    "financial_event_groups": ("financial_event_group_id",),
}


def _money(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Numeric(18, 4), nullable=True)


def _text(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Text(), nullable=True)


def _ts(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=True)


def _mirrored() -> list[sa.Column[object]]:
    return [
        sa.Column("raw", _JSONB, nullable=False),
        sa.Column("sync_version", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True),
                  server_default=sa.text("now()"), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "financial_transactions",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        _text("transaction_type"), _text("transaction_status"), _text("description"),
        _ts("posted_date"), _money("total_amount"), _text("currency"), _text("marketplace_id"),
        _text("order_id"), _text("shipment_id"), _text("financial_event_group_id"),
        _text("settlement_id"), _text("refund_id"),
        sa.Column("related", _JSONB, server_default=sa.text("'{}'::jsonb"), nullable=False),
        *_mirrored(),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "transaction_id"),
    )
    op.create_index("financial_transactions_seller_posted_idx", "financial_transactions",
                    ["seller_id", "posted_date"])
    op.create_index("financial_transactions_seller_order_idx", "financial_transactions",
                    ["seller_id", "order_id"])
    op.create_index("financial_transactions_seller_group_idx", "financial_transactions",
                    ["seller_id", "financial_event_group_id"])
    op.create_index("financial_transactions_sync_version_idx", "financial_transactions",
                    ["sync_version"])
    op.create_index("financial_transactions_seller_sync_version_idx",
                    "financial_transactions", ["seller_id", "sync_version"])
    op.create_table(
        "financial_transaction_breakdowns",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.Text(), nullable=False),
        sa.Column("item", sa.Integer(), nullable=False),
        sa.Column("n", sa.Integer(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        _text("breakdown_type"),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column("leaf", sa.Boolean(), nullable=False),
        _money("amount"), _text("currency"), _text("sku"), _text("asin"),
        sa.Column("quantity", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["seller_id", "transaction_id"],
                                ["financial_transactions.seller_id",
                                 "financial_transactions.transaction_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "transaction_id", "item", "n"),
    )
    op.create_table(
        "financial_event_groups",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("financial_event_group_id", sa.Text(), nullable=False),
        _text("processing_status"), _text("fund_transfer_status"),
        _money("original_total"), _text("original_currency"),
        _money("converted_total"), _text("converted_currency"),
        _money("beginning_balance"), _text("beginning_currency"),
        _ts("group_start"), _ts("group_end"), _ts("fund_transfer_date"),
        _text("trace_id"), _text("account_tail"),
        *_mirrored(),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "financial_event_group_id"),
    )
    op.create_index("financial_event_groups_seller_start_idx", "financial_event_groups",
                    ["seller_id", "group_start"])
    op.create_index("financial_event_groups_sync_version_idx", "financial_event_groups",
                    ["sync_version"])
    for table, keys in FED.items():
        op.execute(_feed._record_function(table, keys))
        for trigger in _feed._triggers(table):
            op.execute(trigger)


def downgrade() -> None:
    for table in FED:
        for event in _feed.EVENTS:
            op.execute(f"DROP TRIGGER spsync_feed_{table}_{event} ON {table}")
        op.execute(f"DROP FUNCTION spsync_feed_{table}()")
    op.drop_table("financial_event_groups")
    op.drop_table("financial_transaction_breakdowns")
    op.drop_table("financial_transactions")
