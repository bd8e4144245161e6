"""API backfills and the finances API version: ``api_backfills`` (one per seller, stream and
``--since``: how far a ``backfill`` through a stream's own API has come) and
``sellers.finances_api_version`` (``2024-06-19``, or ``v0`` for a seller on whom Amazon
refuses ``listTransactions``)

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _ts(name: str, **kw: object) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.add_column("sellers", sa.Column("finances_api_version", sa.Text(),
                                       server_default="2024-06-19", nullable=False))
    op.create_check_constraint("sellers_finances_api_version_check", "sellers",
                               "finances_api_version IN ('2024-06-19', 'v0')")
    op.create_table(
        "api_backfills",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("stream", sa.Text(), nullable=False),
        _ts("since", nullable=False),
        _ts("until", nullable=False),
        _ts("cursor", nullable=True),
        _ts("window_start", nullable=True),
        _ts("window_end", nullable=True),
        sa.Column("next_token", sa.Text(), nullable=True),
        sa.Column("status", sa.Text(), server_default="running", nullable=False),
        sa.Column("pages", sa.Integer(), server_default="0", nullable=False),
        sa.Column("rows_written", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("started_at", server_default=sa.text("now()"), nullable=False),
        _ts("updated_at", server_default=sa.text("now()"), nullable=False),
        _ts("finished_at", nullable=True),
        sa.CheckConstraint("status IN ('running', 'done', 'failed')",
                           name="api_backfills_status_check"),
        sa.CheckConstraint("since < until", name="api_backfills_window_check"),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "stream", "since"),
    )


def downgrade() -> None:
    op.drop_table("api_backfills")
    op.drop_constraint("sellers_finances_api_version_check", "sellers")
    op.drop_column("sellers", "finances_api_version")
