"""onboarding_invitations; selling partner ids must look like Amazon's

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "onboarding_invitations",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("token_sha256", sa.LargeBinary(), nullable=False, unique=True),
        sa.Column("seller_id", sa.BigInteger(),
                  sa.ForeignKey("sellers.id", ondelete="CASCADE"), nullable=True),
        sa.Column("region", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("used_by", sa.Text(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("region IS NULL OR region IN ('NA', 'EU', 'FE')",
                           name="onboarding_invitations_region_check"),
        sa.CheckConstraint("name IS NULL OR length(name) <= 200",
                           name="onboarding_invitations_name_check"),
    )
    # NOT VALID: rows the old, open callback let in stay readable; new ones must conform.
    op.execute("ALTER TABLE sellers ADD CONSTRAINT sellers_selling_partner_id_check "
               "CHECK (selling_partner_id ~ '^[A-Z][A-Z0-9]{1,31}$') NOT VALID")


def downgrade() -> None:
    op.execute("ALTER TABLE sellers DROP CONSTRAINT sellers_selling_partner_id_check")
    op.drop_table("onboarding_invitations")
