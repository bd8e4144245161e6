"""the change feed's reader plans each call for its own position

Revision ID: 0022
Revises: 0021

spsync's connections no longer set ``plan_cache_mode = force_custom_plan`` for the whole
session (they send no prepared statements instead, ``worker/db/engine.py``, so Postgres's
own foreign-key checks may keep their cached plans). ``spsync_changes`` is PL/pgSQL: its
query is a cached plan, and a generic one chosen after a few calls while ``changes`` was
small could scan it whole. The setting now travels with the function, for every reader,
whatever its driver.
"""

from __future__ import annotations

from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

READER = "spsync_changes(numeric, integer)"


def upgrade() -> None:
    op.execute(f"ALTER FUNCTION {READER} SET plan_cache_mode = force_custom_plan")


def downgrade() -> None:
    op.execute(f"ALTER FUNCTION {READER} RESET plan_cache_mode")
