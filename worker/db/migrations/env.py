"""Alembic environment: online migrations only, URL from the caller's Config."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from worker.db.models import Base

config = context.config
engine = create_engine(config.get_main_option("sqlalchemy.url") or "", poolclass=pool.NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=Base.metadata)
    with context.begin_transaction():
        # Several processes may start at once (worker, beat, web): migrate one at a time.
        connection.exec_driver_sql("SELECT pg_advisory_xact_lock(727274)")
        context.run_migrations()
