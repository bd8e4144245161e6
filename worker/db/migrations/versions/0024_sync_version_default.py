"""``sync_version`` defaults to ``nextval('sync_version_seq')`` on every mirrored table

Revision ID: 0024
Revises: 0023

Issue 19: rows the mirror does not hold yet are ``COPY``-ed straight into their table
(``worker/db/upsert.py``), the one write that reaches a plain COPY's rate; COPY numbers them
through the column default, and so does the merge for the rows it inserts or updates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def _tables() -> list[str]:
    return list(op.get_bind().execute(sa.text(
        "SELECT c.relname FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
        "AND a.attname = 'sync_version' AND NOT a.attisdropped ORDER BY c.relname"))
        .scalars())


def upgrade() -> None:
    for table in _tables():
        op.alter_column(table, "sync_version",
                        server_default=sa.text("nextval('sync_version_seq'::regclass)"))


def downgrade() -> None:
    for table in _tables():
        op.alter_column(table, "sync_version", server_default=None)
