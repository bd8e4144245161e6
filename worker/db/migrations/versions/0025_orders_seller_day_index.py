"""``orders_seller_day_idx``: a seller's orders by their UTC purchase day

Revision ID: 0025
Revises: 0024

Issue 20 (the mirror at 100 million orders, ``benchmarks/mirror_scale.py``): the daily sales
view groups a seller's orders by ``(purchase_date AT TIME ZONE 'UTC')::date``, and a reader
asking for one seller's month had no index on that day, so Postgres read the seller's whole
history: 0.42 s (p50) and 1.5 s (p95) for a seller with 100,000 orders, growing with every
order. This index has the view's expression, so the day range goes into the index scan: at 100
million orders 421 -> 49 ms (p50) and 1,492 -> 206 ms (p95), the write path's page unchanged.
Built ``CONCURRENTLY``: a large mirror keeps taking writes while it is built (50 s there).
"""

from __future__ import annotations

from alembic import op

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS orders_seller_day_idx ON orders "
                   "(seller_id, ((purchase_date AT TIME ZONE 'UTC')::date))")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.execute("DROP INDEX CONCURRENTLY IF EXISTS orders_seller_day_idx")
