"""the change feed: ``changes``, ``feed_consumers``, the triggers and ``spsync_changes()``

Revision ID: 0009
Revises: 0008

Every write to a mirrored table (``orders``, ``order_items``, ``inventory_summaries``,
``listings_items``, ``report_rows``) leaves one row per changed row in ``changes``, written by
statement-level triggers with transition tables (Postgres refuses transition tables on a
trigger for several events, so there is one trigger per event). Each change records the
writing transaction (``pg_current_xact_id()``); ``spsync_changes()`` returns only changes of
transactions below its snapshot's xmin, all of which have ended, so a reader that advances
its position to what it read never skips a change that commits later (docs/schema.md,
"The change feed"). On commit, ``NOTIFY spsync_changes`` wakes the followers.

Rows already in the mirror are not copied into the feed: the feed starts at this migration.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# table -> its primary key's columns besides seller_id (the change's ``key``)
MIRRORED = {
    "orders": ("amazon_order_id",),
    "order_items": ("amazon_order_id", "order_item_id"),
    "inventory_summaries": ("marketplace_id", "seller_sku"),
    "listings_items": ("marketplace_id", "seller_sku"),
    "report_rows": ("report_id", "line"),
}
EVENTS = ("insert", "update", "delete")

# A position is one number: the writing transaction's id times 10^19, plus the change's id
# (a bigint, so below 10^19). Ordered like (txid, id), which the primary key indexes.
SCALE = "10000000000000000000"


def _record_function(table: str, keys: tuple[str, ...]) -> str:
    key = ", ".join(f"'{k}', r.{k}" for k in keys)

    def record(rows: str) -> str:
        """Write ``rows``' changes, then one NOTIFY per seller with its last position."""
        return f"""
        WITH written AS (
            INSERT INTO changes (txid, entity, seller_id, key, operation)
            SELECT tx, '{table}', r.seller_id, jsonb_build_object({key}), operation
            FROM {rows} r
            RETURNING seller_id, id)
        SELECT count(pg_notify('spsync_changes', json_build_object(
                   'entity', '{table}', 'seller', seller_id,
                   'position', (tx::numeric * {SCALE} + last)::text)::text))
        INTO woken
        FROM (SELECT seller_id, max(id) AS last FROM written GROUP BY seller_id) per_seller;"""  # noqa: S608 - names from MIRRORED

    return f"""
CREATE FUNCTION spsync_feed_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    operation text := lower(TG_OP);
    tx bigint := pg_current_xact_id()::text::bigint;
    woken integer;
BEGIN
    -- the transition table is named by the trigger: gone rows for DELETE, new ones otherwise
    IF TG_OP = 'DELETE' THEN{record('gone_rows')}
    ELSE{record('new_rows')}
    END IF;
    RETURN NULL;
END
$$
"""


def _triggers(table: str) -> list[str]:
    name = f"spsync_feed_{table}"
    refs = {"insert": "NEW TABLE AS new_rows", "update": "NEW TABLE AS new_rows",
            "delete": "OLD TABLE AS gone_rows"}
    return [f"CREATE TRIGGER {name}_{event} AFTER {event.upper()} ON {table} "
            f"REFERENCING {refs[event]} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
            for event in EVENTS]


# The reader: changes after ``after`` whose transaction is below the snapshot's xmin (every
# transaction below it has committed or rolled back, so nothing can still appear there), in
# position order. An index range scan on the primary key, LIMIT max_rows: O(batch).
_READER = f"""
CREATE FUNCTION spsync_changes(after numeric DEFAULT 0, max_rows integer DEFAULT 1000)
RETURNS TABLE (entity text, seller_id bigint, key jsonb, operation text, "position" numeric,
               changed_at timestamptz)
LANGUAGE plpgsql STABLE AS $$
DECLARE
    horizon bigint := pg_snapshot_xmin(pg_current_snapshot())::text::bigint;
    after_tx bigint := div(after, {SCALE});
    after_id bigint := mod(after, {SCALE});
BEGIN
    IF after IS NULL OR after < 0 OR max_rows IS NULL OR max_rows < 1 THEN
        RAISE EXCEPTION 'spsync_changes: after must be >= 0 and max_rows >= 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
        SELECT c.entity, c.seller_id, c.key, c.operation,
               c.txid::numeric * {SCALE} + c.id, c.changed_at
        FROM changes c
        WHERE (c.txid, c.id) > (after_tx, after_id) AND c.txid < horizon
        ORDER BY c.txid, c.id
        LIMIT max_rows;
END
$$
"""  # noqa: S608 - SCALE is a literal


def upgrade() -> None:
    op.create_table(
        "changes",
        sa.Column("txid", sa.BigInteger(), nullable=False),
        sa.Column("id", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("entity", sa.Text(), nullable=False),
        sa.Column("seller_id", sa.BigInteger(), nullable=False),
        sa.Column("key", sa.dialects.postgresql.JSONB(), nullable=False),
        sa.Column("operation", sa.Text(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("operation IN ('insert', 'update', 'delete')",
                           name="changes_operation_check"),
        sa.PrimaryKeyConstraint("txid", "id"),
    )
    op.create_table(
        "feed_consumers",
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("position", sa.Numeric(38, 0), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(),
                  nullable=False),
        sa.CheckConstraint("position >= 0", name="feed_consumers_position_check"),
        sa.PrimaryKeyConstraint("name"),
    )
    for table, keys in MIRRORED.items():
        op.execute(_record_function(table, keys))
        for trigger in _triggers(table):
            op.execute(trigger)
    op.execute(_READER)


def downgrade() -> None:
    op.execute("DROP FUNCTION spsync_changes(numeric, integer)")
    for table in MIRRORED:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER spsync_feed_{table}_{event} ON {table}")
        op.execute(f"DROP FUNCTION spsync_feed_{table}()")
    op.drop_table("feed_consumers")
    op.drop_table("changes")
