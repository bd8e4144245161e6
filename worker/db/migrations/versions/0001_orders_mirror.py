"""orders mirror: sellers, orders, order_items, sync_state, sync_runs

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("CREATE SEQUENCE sync_version_seq")
    op.create_table('sellers',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('selling_partner_id', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=True),
    sa.Column('region', sa.Text(), nullable=False),
    sa.Column('marketplace_ids', postgresql.ARRAY(sa.Text()), nullable=False),
    sa.Column('orders_api_version', sa.Text(), server_default='2026-01-01', nullable=False),
    sa.Column('refresh_token_enc', sa.LargeBinary(), nullable=True),
    sa.Column('refresh_token_kid', sa.Text(), nullable=True),
    sa.Column('enabled', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('disabled_reason', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("orders_api_version IN ('2026-01-01', 'v0')", name='sellers_orders_api_version_check'),
    sa.CheckConstraint("region IN ('NA', 'EU', 'FE')", name='sellers_region_check'),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('selling_partner_id')
    )
    op.create_table('orders',
    sa.Column('seller_id', sa.BigInteger(), nullable=False),
    sa.Column('amazon_order_id', sa.Text(), nullable=False),
    sa.Column('order_status', sa.Text(), nullable=False),
    sa.Column('purchase_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_update_date', sa.DateTime(timezone=True), nullable=False),
    sa.Column('order_total', sa.Numeric(precision=18, scale=4), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('marketplace_id', sa.Text(), nullable=True),
    sa.Column('fulfillment_channel', sa.Text(), nullable=True),
    sa.Column('api_version', sa.Text(), nullable=False),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('sync_version', sa.BigInteger(), nullable=False),
    sa.Column('synced_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seller_id', 'amazon_order_id')
    )
    op.create_index('orders_seller_last_update_idx', 'orders', ['seller_id', 'last_update_date'], unique=False)
    op.create_index('orders_sync_version_idx', 'orders', ['sync_version'], unique=False)
    op.create_index('orders_seller_sync_version_idx', 'orders', ['seller_id', 'sync_version'], unique=False)
    op.create_table('sync_runs',
    sa.Column('id', sa.BigInteger(), nullable=False),
    sa.Column('seller_id', sa.BigInteger(), nullable=False),
    sa.Column('stream', sa.Text(), nullable=False),
    sa.Column('worker', sa.Text(), nullable=True),
    sa.Column('status', sa.Text(), server_default='running', nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('pages', sa.Integer(), server_default='0', nullable=False),
    sa.Column('rows_written', sa.Integer(), server_default='0', nullable=False),
    sa.Column('child_rows_written', sa.Integer(), server_default='0', nullable=False),
    sa.Column('api_calls', sa.Integer(), server_default='0', nullable=False),
    sa.Column('throttled', sa.Integer(), server_default='0', nullable=False),
    sa.Column('retries', sa.Integer(), server_default='0', nullable=False),
    sa.Column('error_type', sa.Text(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.CheckConstraint("status IN ('running', 'succeeded', 'failed', 'skipped', 'deferred')", name='sync_runs_status_check'),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id')
    )
    op.create_index('sync_runs_seller_stream_idx', 'sync_runs', ['seller_id', 'stream', 'started_at'], unique=False)
    op.create_table('sync_state',
    sa.Column('seller_id', sa.BigInteger(), nullable=False),
    sa.Column('stream', sa.Text(), nullable=False),
    sa.Column('cursor', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=True),
    sa.Column('window_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('next_token', sa.Text(), nullable=True),
    sa.Column('pages_in_window', sa.Integer(), server_default='0', nullable=False),
    sa.Column('locked_by', sa.Text(), nullable=True),
    sa.Column('locked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('due_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('last_error_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['seller_id'], ['sellers.id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seller_id', 'stream')
    )
    op.create_index('sync_state_due_idx', 'sync_state', ['due_at'], unique=False)
    op.create_table('order_items',
    sa.Column('seller_id', sa.BigInteger(), nullable=False),
    sa.Column('amazon_order_id', sa.Text(), nullable=False),
    sa.Column('order_item_id', sa.Text(), nullable=False),
    sa.Column('seller_sku', sa.Text(), nullable=True),
    sa.Column('asin', sa.Text(), nullable=True),
    sa.Column('title', sa.Text(), nullable=True),
    sa.Column('quantity_ordered', sa.Integer(), nullable=False),
    sa.Column('quantity_shipped', sa.Integer(), nullable=True),
    sa.Column('item_price', sa.Numeric(precision=18, scale=4), nullable=True),
    sa.Column('currency', sa.Text(), nullable=True),
    sa.Column('raw', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('sync_version', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['seller_id', 'amazon_order_id'], ['orders.seller_id', 'orders.amazon_order_id'], ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('seller_id', 'amazon_order_id', 'order_item_id')
    )
    op.create_index('order_items_seller_sku_idx', 'order_items', ['seller_id', 'seller_sku'], unique=False)
    op.create_index('order_items_sync_version_idx', 'order_items', ['sync_version'], unique=False)
    op.create_index('order_items_seller_sync_version_idx', 'order_items', ['seller_id', 'sync_version'], unique=False)


def downgrade() -> None:
    op.drop_index('order_items_seller_sync_version_idx', table_name='order_items')
    op.drop_index('order_items_sync_version_idx', table_name='order_items')
    op.drop_index('order_items_seller_sku_idx', table_name='order_items')
    op.drop_table('order_items')
    op.drop_index('sync_state_due_idx', table_name='sync_state')
    op.drop_table('sync_state')
    op.drop_index('sync_runs_seller_stream_idx', table_name='sync_runs')
    op.drop_table('sync_runs')
    op.drop_index('orders_seller_sync_version_idx', table_name='orders')
    op.drop_index('orders_sync_version_idx', table_name='orders')
    op.drop_index('orders_seller_last_update_idx', table_name='orders')
    op.drop_table('orders')
    op.drop_table('sellers')
    op.execute("DROP SEQUENCE sync_version_seq")
