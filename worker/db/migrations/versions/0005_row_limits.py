"""depth and size limits on outbox.params and notifications_inbox.payload

Revision ID: 0005
Revises: 0004

Downstream systems ``INSERT`` into ``outbox`` directly, so the rule is Postgres's own: a
trigger refuses a document nested deeper than 32 levels or longer than its size limit as
text (``worker/db/jsonlimits.py`` holds the same numbers for the Python side).

A trigger, not a CHECK constraint: a CHECK added ``NOT VALID`` (so that rows already there
cannot fail the migration) is still checked on every UPDATE of such a row, so the worker
could not even mark it ``rejected``. The trigger looks only at inserts and at updates that
set the document itself; rows that break the rule and predate it are left as they are, and
the readers reject (outbox) or park (inbox) them with the reason.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Iterative in effect: the jsonpath visits at most max_depth levels, so a document
# thousands of levels deep answers as fast as a flat one.
_PROBLEM = """
CREATE FUNCTION spsync_json_problem(doc jsonb, max_depth integer, max_bytes integer)
RETURNS text LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT CASE
        WHEN jsonb_path_exists(doc, format(
            'strict $.**{%s} ? (@.type() == "object" || @.type() == "array")',
            max_depth)::jsonpath)
            THEN format('nested deeper than %s levels', max_depth)
        WHEN octet_length(doc::text) > max_bytes
            THEN format('larger than %s bytes', to_char(max_bytes, 'FM999,999,999,999'))
    END
$$
"""

# (table, column, trigger, depth, bytes)
_LIMITS = (
    ("outbox", "params", "outbox_params_limits", 32, 2 * 1024 * 1024),
    ("notifications_inbox", "payload", "notifications_inbox_payload_limits", 32, 1024 * 1024),
)


def _check_function(table: str, column: str, trigger: str, depth: int, size: int) -> str:
    return f"""
CREATE FUNCTION {trigger}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    found text := spsync_json_problem(NEW.{column}, {depth}, {size});
BEGIN
    IF found IS NOT NULL THEN
        RAISE EXCEPTION '{table}.{column} is %', found
            USING ERRCODE = 'check_violation', CONSTRAINT = '{trigger}';
    END IF;
    RETURN NEW;
END
$$
"""


def upgrade() -> None:
    op.execute(_PROBLEM)
    for table, column, trigger, depth, size in _LIMITS:
        op.execute(_check_function(table, column, trigger, depth, size))
        op.execute(f"CREATE TRIGGER {trigger} BEFORE INSERT OR UPDATE OF {column} ON {table} "
                   f"FOR EACH ROW EXECUTE FUNCTION {trigger}()")


def downgrade() -> None:
    for table, _, trigger, _, _ in _LIMITS:
        op.execute(f"DROP TRIGGER {trigger} ON {table}")
        op.execute(f"DROP FUNCTION {trigger}()")
    op.execute("DROP FUNCTION spsync_json_problem(jsonb, integer, integer)")
