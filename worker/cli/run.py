"""``celery -A worker migrate``."""

from __future__ import annotations

import click

from worker.cli.common import cli_runtime, operator_command


@click.command(help="Create or upgrade the database schema, and give every seller the streams "
               "this version syncs.\n\nExample: celery -A worker migrate")
@operator_command
def migrate() -> None:
    from worker.db.engine import migrate as run_migrations
    from worker.db.sellers import list_sellers
    from worker.db.state import ensure_streams
    from worker.sync.catalog import streams_for

    rt = cli_runtime()
    run_migrations(rt.services.database_url)
    with rt.engine.begin() as conn:  # e.g. listings streams for sellers added before them
        for seller in list_sellers(conn):
            ensure_streams(conn, seller.id, streams_for(seller.marketplace_ids))
    click.echo("database is at the latest schema revision")
