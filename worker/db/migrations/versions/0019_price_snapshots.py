"""prices: ``price_snapshots``, the competitive summary (featured offer, lowest offer,
reference prices) of each ASIN the seller lists, per marketplace, one row each time it is
read: a history, not just the latest (the ``prices`` stream, getCompetitiveSummary)

Revision ID: 0019
Revises: 0018

Not in the change feed: every row is new (a history); read new ones by ``sync_version``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def _money(name: str) -> list[sa.Column[object]]:
    return [sa.Column(f"{name}_amount", sa.Numeric(18, 4), nullable=True),
            sa.Column(f"{name}_currency", sa.Text(), nullable=True)]


def upgrade() -> None:
    op.create_table(
        "price_snapshots",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("marketplace_id", sa.Text(), nullable=False),
        sa.Column("asin", sa.Text(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("featured_seller_id", sa.Text(), nullable=True),
        sa.Column("featured_is_mine", sa.Boolean(), nullable=True),
        *_money("featured_price"),
        *_money("lowest_price"),
        sa.Column("lowest_offers", sa.Integer(), nullable=True),
        *_money("competitive_price"),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("sync_version", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "asin", "taken_at"),
    )
    op.create_index("price_snapshots_sync_version_idx", "price_snapshots", ["sync_version"])


def downgrade() -> None:
    op.drop_table("price_snapshots")
