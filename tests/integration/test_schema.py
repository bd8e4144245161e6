"""Migrations and models agree, and the one bulk write path keeps its newer-wins rule."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text

from worker.db.engine import alembic_config, migrate, sqlalchemy_url
from worker.db.models import Base, InventorySummary
from worker.db.upsert import upsert_newer

pytestmark = pytest.mark.integration


ANALYTICS_VIEWS = {"analytics_daily_sales", "analytics_daily_sales_traffic",
                   "analytics_inventory_position", "analytics_listing_issues",
                   "analytics_sync_health", "order_profit", "order_profit_daily"}


def views(conn):
    return set(conn.execute(text(
        "SELECT viewname FROM pg_views WHERE schemaname = 'public'")).scalars())


def test_migrations_create_exactly_the_models_and_downgrade_cleanly(scratch_db):
    migrate(scratch_db)
    engine = create_engine(sqlalchemy_url(scratch_db))
    with engine.connect() as conn:
        # Autogenerate compares tables only (the inspector's table names leave views out),
        # and the analytics views are no model: they live in their migration alone.
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
        assert views(conn) == ANALYTICS_VIEWS
    command.downgrade(alembic_config(scratch_db), "base")
    with engine.connect() as conn:
        tables = conn.execute(text(
            "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'")).scalar()
        assert tables == 0 and views(conn) == set()
    migrate(scratch_db)  # and up again
    engine.dispose()


def _sections(page: str) -> dict[str, str]:
    """Each table's part of docs/schema.md: from its heading (``## `t` `` or ``### `t` ``)
    to the next heading of either level, its whitespace collapsed (a list wraps anywhere)."""
    heads = [m.start() for m in re.finditer(r"^#{2,3} ", page, re.M)] + [len(page)]
    sections = {}
    for start, end in pairwise(heads):
        table = re.match(r"#{2,3} `(\w+)`", page[start:end])
        if table:
            sections[table.group(1)] = " ".join(page[start:end].split())
    return sections


def _listed(section: str, name: str, definition: str) -> bool:
    """The page names the index, or gives its columns as ``(a, b)``; a one-column unique
    index may be the column's UNIQUE instead."""
    columns = re.search(r"\((.*)\)\s*$", definition)
    assert columns, definition
    unique = "UNIQUE" in definition and "," not in columns.group(1)
    return name in section or f"({columns.group(1)})" in section or (
        unique and re.search(rf"\| `{columns.group(1)}` \|[^|]*\|[^|]*\|[^|]*\bunique\b",
                            section, re.I) is not None)


def test_the_schema_page_lists_every_index_and_foreign_key_that_exists(services):
    """docs/schema.md, against the migrated database: every index of every table (its name
    or its columns), every foreign key (the table it references), and no index it names
    that is not there."""
    page = (Path(__file__).parents[2] / "docs" / "schema.md").read_text()
    sections = _sections(page)
    engine = create_engine(sqlalchemy_url(services.database_url))
    with engine.connect() as conn:
        indexes = conn.execute(text(
            "SELECT tablename, indexname, indexdef FROM pg_indexes "
            "WHERE schemaname = 'public' AND indexname NOT LIKE '%\\_pkey'")).all()
        keys = conn.execute(text(
            "SELECT conrelid::regclass::text, confrelid::regclass::text FROM pg_constraint "
            "WHERE contype = 'f' AND connamespace = 'public'::regnamespace")).all()
    engine.dispose()
    tables = set(Base.metadata.tables)
    assert tables - set(sections) == set(), "tables without a section"
    unlisted = [(t, name) for t, name, definition in indexes
                if t in tables and not _listed(sections[t], name, definition)]
    assert unlisted == []
    assert [(t, ref) for t, ref in keys if t in tables
            and not re.search(rf"FK[^|]*?`{ref}[`.(]", sections[t])] == []
    assert set(re.findall(r"`(\w+_idx)\b", page)) - {name for _, name, _ in indexes} == set()


def test_upsert_writes_only_newer_or_changed_rows(clean):
    from worker.config import Settings
    from worker.runtime import Runtime

    rt = Runtime(Settings(database_url=clean.database_url, redis_url=clean.redis_url))
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    with rt.engine.begin() as conn:
        seller = conn.execute(text(
            "INSERT INTO sellers (selling_partner_id, region, marketplace_ids) "
            "VALUES ('A1UPSERT', 'NA', '{ATVPDKIKX0DER}') RETURNING id")).scalar()

    def put(sku, when, qty, raw=None):
        row = {"seller_id": seller, "marketplace_id": "ATVPDKIKX0DER", "seller_sku": sku,
               "fulfillable_quantity": qty, "last_updated_time": when,
               "raw": raw or {"q": qty}}
        with rt.engine.begin() as conn:
            return upsert_newer(conn, InventorySummary, [row],
                                keys=("seller_id", "marketplace_id", "seller_sku"),
                                updated="last_updated_time")

    def stored(sku):
        with rt.engine.begin() as conn:
            return conn.execute(text(
                "SELECT fulfillable_quantity, sync_version FROM inventory_summaries "
                "WHERE seller_sku = :s"), {"s": sku}).one()

    assert put("A", t0, 5)  # new
    v1 = stored("A").sync_version
    assert not put("A", t0, 5)  # same time, same content: nothing rewritten
    assert not put("A", t0 - timedelta(hours=1), 1)  # older: ignored
    assert stored("A") == (5, v1)
    assert put("A", t0, 6)  # same time, different content: written
    assert put("A", t0 + timedelta(seconds=1), 7)  # newer: written
    assert stored("A").fulfillable_quantity == 7 and stored("A").sync_version > v1
    assert put("B", None, 1) and put("B", t0, 2)  # unknown time, then a known one
    assert not put("B", None, 3)  # a row of unknown time never replaces a dated one
    assert stored("B").fulfillable_quantity == 2
