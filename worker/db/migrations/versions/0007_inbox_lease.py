"""notifications_inbox.next_attempt_at: a notification is claimed with a lease

Its refresh calls Amazon with no transaction open (it held a row lock before), so the
claim needs a column saying until when the claiming worker holds it.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # now() is stable: Postgres stores it once as the default of existing rows, no rewrite
    op.add_column("notifications_inbox", sa.Column(
        "next_attempt_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
        nullable=False))


def downgrade() -> None:
    op.drop_column("notifications_inbox", "next_attempt_at")
