"""stream refusals: ``sync_state.disabled_reason`` / ``disabled_at``. A stream Amazon refuses
the seller (403 ``Unauthorized`` after a fresh access token: a role or a registration the
seller lacks) is disabled alone; the seller's other streams keep syncing

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("sync_state", sa.Column("disabled_reason", sa.Text(), nullable=True))
    op.add_column("sync_state", sa.Column("disabled_at", sa.DateTime(timezone=True),
                                          nullable=True))


def downgrade() -> None:
    op.drop_column("sync_state", "disabled_at")
    op.drop_column("sync_state", "disabled_reason")
