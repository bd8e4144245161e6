"""inventory_summaries: FBA inventory per seller, marketplace and SKU

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_QUANTITIES = (
    "total_quantity", "fulfillable_quantity", "inbound_working_quantity",
    "inbound_shipped_quantity", "inbound_receiving_quantity", "reserved_quantity",
    "unfulfillable_quantity", "researching_quantity",
)


def upgrade() -> None:
    op.create_table(
        "inventory_summaries",
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("marketplace_id", sa.Text(), nullable=False),
        sa.Column("seller_sku", sa.Text(), nullable=False),
        sa.Column("fn_sku", sa.Text(), nullable=True),
        sa.Column("asin", sa.Text(), nullable=True),
        sa.Column("condition", sa.Text(), nullable=True),
        sa.Column("product_name", sa.Text(), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=True) for name in _QUANTITIES),
        sa.Column("last_updated_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("sync_version", sa.BigInteger(), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.ForeignKeyConstraint(["seller_id"], ["sellers.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("seller_id", "marketplace_id", "seller_sku"),
    )
    op.create_index("inventory_summaries_sync_version_idx", "inventory_summaries",
                    ["sync_version"])
    op.create_index("inventory_summaries_seller_sync_version_idx", "inventory_summaries",
                    ["seller_id", "sync_version"])


def downgrade() -> None:
    op.drop_table("inventory_summaries")
