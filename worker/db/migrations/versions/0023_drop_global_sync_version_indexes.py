"""drop ``*_sync_version_idx (sync_version)`` where ``(seller_id, sync_version)`` exists

Revision ID: 0023
Revises: 0022

Issue 19 measured what each index on ``orders`` costs the write path (``benchmarks/README.md``:
1,000-row batches, 60,000 orders, two rounds): each secondary index 2-5 % of the insert rate and
~70 bytes of WAL a row. The global ``(sync_version)`` index serves one query only, "every row of
every seller after watermark N", which is the reading docs/schema.md says not to do (a lower
value can commit after a higher one was read): the change feed is the way. Where the table also
has ``(seller_id, sync_version)`` (orders, order_items, inventory_summaries, listings_items,
financial_transactions), a reader ordering a seller's rows by ``sync_version`` keeps its index;
the global one goes. Tables with only ``(sync_version)`` keep it.
"""

from __future__ import annotations

from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None

TABLES = ("orders", "order_items", "inventory_summaries", "listings_items",
          "financial_transactions")


def upgrade() -> None:
    for table in TABLES:
        op.drop_index(f"{table}_sync_version_idx", table_name=table)


def downgrade() -> None:
    for table in TABLES:
        op.create_index(f"{table}_sync_version_idx", table, ["sync_version"])
