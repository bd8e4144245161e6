"""``celery -A worker`` migrate, sandbox (the simulator), demo."""

from __future__ import annotations

import sys

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


@click.command(help="Run the SP-API simulator.\n\n"
               "Example: celery -A worker sandbox --port 8700 --sellers 3 --time-scale 60")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8700, show_default=True, type=click.IntRange(0, 65535))
@click.option("--sellers", "n_sellers", default=3, show_default=True, type=click.IntRange(1))
@click.option("--orders-per-seller", default=200, show_default=True, type=click.IntRange(0))
@click.option("--seed", default=1, show_default=True, type=int)
@click.option("--time-scale", default=1.0, show_default=True, type=click.FloatRange(min=0.001))
@click.option("--changes-per-minute", default=0.0, show_default=True,
              type=click.FloatRange(min=0))
@click.option("--sqs-endpoint-url", default=None, help="Publish notifications of subscribed "
              "sellers to queues on this SQS endpoint (e.g. a moto server).")
@operator_command
def sandbox(host: str, port: int, n_sellers: int, orders_per_seller: int, seed: int,
            time_scale: float, changes_per_minute: float, sqs_endpoint_url: str | None) -> None:
    from simulator.app import run
    from simulator.config import SimConfig

    run(SimConfig(sellers=n_sellers, orders_per_seller=orders_per_seller, seed=seed,
                  time_scale=time_scale, changes_per_minute=changes_per_minute,
                  sqs_endpoint_url=sqs_endpoint_url), host, port)


@click.command(help="Run the end-to-end demo: simulator + worker + beat syncing 3 sellers.\n\n"
               "Example: celery -A worker demo --json")
@click.option("--spapi-url", default=None, help="Use this running simulator instead of "
              "starting one.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON summary line.")
@click.option("--orders-per-seller", default=300, show_default=True, type=click.IntRange(1))
@click.option("--time-scale", default=60.0, show_default=True, type=click.FloatRange(min=1))
@click.option("--timeout", default=110.0, show_default=True, type=click.FloatRange(min=5),
              help="Give up (exit 1) after this many seconds.")
@operator_command
def demo(spapi_url: str | None, as_json: bool, orders_per_seller: int, time_scale: float,
         timeout: float) -> None:
    from worker.demo import DemoOptions, run_demo

    ok = run_demo(DemoOptions(spapi_url=spapi_url, as_json=as_json,
                              orders_per_seller=orders_per_seller, time_scale=time_scale,
                              timeout=timeout))
    sys.exit(0 if ok else 1)


