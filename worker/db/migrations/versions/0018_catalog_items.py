"""catalog: ``catalog_items``, Amazon's catalog entry (searchCatalogItems) of each ASIN a seller
lists or sold, per marketplace, refreshed in batches (the ``catalog`` stream)

Revision ID: 0018
Revises: 0017

Not in the change feed: every refresh touches ``refreshed_at`` of every row it reads, which
would flood the feed with rows that did not change. ``sync_version`` moves only when an
entry's JSON changed: read changes with it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "catalog_items",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("marketplace_id", sa.Text(), nullable=False),
        sa.Column("asin", sa.Text(), nullable=False),
        sa.Column("found", sa.Boolean(), nullable=False),
        sa.Column("item_name", sa.Text(), nullable=True),
        sa.Column("brand", sa.Text(), nullable=True),
        sa.Column("manufacturer", sa.Text(), nullable=True),
        sa.Column("product_type", sa.Text(), nullable=True),
        sa.Column("browse_classification", sa.Text(), nullable=True),
        sa.Column("sales_rank", sa.Integer(), nullable=True),
        sa.Column("sales_rank_title", sa.Text(), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("sync_version", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "asin"),
    )
    op.create_index("catalog_items_seller_refreshed_idx", "catalog_items",
                    ["seller_id", "marketplace_id", "refreshed_at"])
    op.create_index("catalog_items_sync_version_idx", "catalog_items", ["sync_version"])


def downgrade() -> None:
    op.drop_table("catalog_items")
