"""Engine and migrations. One engine per process, built from a URL passed in."""

from __future__ import annotations

from functools import cache
from importlib import resources

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine


def sqlalchemy_url(url: str) -> str:
    """``postgresql://`` -> the psycopg 3 dialect."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://"):]
    return url


@cache
def engine_for(url: str) -> Engine:
    # Every statement is planned for its own parameters: psycopg prepares none
    # (``prepare_threshold=None``). A mirror table starts empty and grows by the million; a
    # prepared statement's generic plan, fixed while the table was small (and before
    # autovacuum, if any, analyzed it), would keep scanning it whole. This replaced the
    # session's ``plan_cache_mode=force_custom_plan``, which also re-planned Postgres's own
    # foreign-key check for every row written (18 % of the server's time in a report ingest,
    # issue 19); the feed's PL/pgSQL reader carries that setting itself (migration 0022).
    # No JIT: the service's statements are short, and a batch's merge, its cost inflated by
    # a growing table's stale statistics, spent ~200 ms compiling per 1,000 rows
    # (benchmarks/upsert.py: 4,400 rows/s instead of 30,000 for unchanged rows).
    return create_engine(sqlalchemy_url(url), pool_pre_ping=True, pool_size=5, max_overflow=5,
                         connect_args={"prepare_threshold": None, "options": "-c jit=off"})


def alembic_config(url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("worker.db") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(url).replace("%", "%%"))
    return cfg


def migrate(url: str, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (idempotent)."""
    command.upgrade(alembic_config(url), revision)
