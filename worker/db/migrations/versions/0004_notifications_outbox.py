"""notifications_inbox and outbox

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_JSONB = postgresql.JSONB(astext_type=sa.Text())


def _ts(name: str, **kw: object) -> sa.Column[object]:
    return sa.Column(name, sa.DateTime(timezone=True), **kw)  # type: ignore[arg-type]


def upgrade() -> None:
    op.create_table(
        "notifications_inbox",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("notification_id", sa.Text(), nullable=False, unique=True),
        sa.Column("notification_type", sa.Text(), nullable=False),
        sa.Column("seller_id", sa.BigInteger(),
                  sa.ForeignKey("sellers.id", ondelete="SET NULL"), nullable=True),
        sa.Column("selling_partner_id", sa.Text(), nullable=True),
        _ts("event_time", nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("payload", _JSONB, nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        _ts("received_at", server_default=sa.func.now(), nullable=False),
        _ts("processed_at", nullable=True),
        sa.CheckConstraint("status IN ('pending', 'done', 'parked')",
                           name="notifications_inbox_status_check"),
    )
    op.create_index("notifications_inbox_pending_idx", "notifications_inbox",
                    ["status", "received_at"], postgresql_where=sa.text("status = 'pending'"))
    op.create_index("notifications_inbox_seller_idx", "notifications_inbox",
                    ["seller_id", "received_at"])
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("seller_id", sa.BigInteger(),
                  sa.ForeignKey("sellers.id", ondelete="CASCADE"), nullable=False),
        sa.Column("command", sa.Text(), nullable=False),
        sa.Column("idempotency_key", sa.Text(), nullable=True, unique=True),
        sa.Column("params", _JSONB, nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        _ts("next_attempt_at", server_default=sa.func.now(), nullable=False),
        sa.Column("response", _JSONB, nullable=True),
        sa.Column("operation_id", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("claimed_by", sa.Text(), nullable=True),
        _ts("created_at", server_default=sa.func.now(), nullable=False),
        _ts("sent_at", nullable=True),
        _ts("finished_at", nullable=True),
        sa.CheckConstraint(
            "command IN ('confirmShipment', 'patchListingsItem', 'deleteListingsItem', "
            "'createInboundPlan')", name="outbox_command_check"),
        sa.CheckConstraint(
            "status IN ('pending', 'sending', 'polling', 'accepted', 'rejected', 'failed', "
            "'unknown')", name="outbox_status_check"),
    )
    op.create_index("outbox_due_idx", "outbox", ["status", "next_attempt_at"],
                    postgresql_where=sa.text("status IN ('pending', 'sending', 'polling')"))
    op.create_index("outbox_seller_idx", "outbox", ["seller_id", "created_at"])


def downgrade() -> None:
    op.drop_table("outbox")
    op.drop_table("notifications_inbox")
