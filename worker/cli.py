"""Operator commands, registered as celery subcommands (``celery -A worker <command>``).

Every command exits non-zero with one clear line on bad input and never prints a secret.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import wraps
from typing import Any, TypeVar

import click

from worker.config import ConfigError, load_settings
from worker.db.sellers import UnknownSellerError
from worker.spapi.regions import UnknownRegionError

F = TypeVar("F", bound=Callable[..., Any])

# Celery ships its own ``migrate`` (move tasks between brokers) and ``status`` (list workers)
# and registers them *after* plugin commands, so ours would be silently replaced. When Celery
# loads this module through the ``celery.commands`` entry point, the group being built is a
# local named ``group`` in click-plugins' decorator; we make it keep our two names. Celery's
# worker listing stays available as ``celery -A worker inspect ping``.
# tests/integration/test_cli.py fails if a Celery or click-plugins upgrade breaks this.
OURS = frozenset({"migrate", "status"})


class _KeepOurs(dict[str, Any]):
    def __setitem__(self, name: str, command: Any) -> None:
        if name in OURS and name in self and getattr(command, "callback", None) is not None \
                and not command.callback.__module__.startswith("worker."):
            return
        super().__setitem__(name, command)


def _claim_names() -> None:
    frame = sys._getframe(1)
    for _ in range(40):
        if frame is None:
            return
        group = frame.f_locals.get("group")
        if isinstance(group, click.Group) and not isinstance(group.commands, _KeepOurs):
            group.commands = _KeepOurs(group.commands)
            return
        frame = frame.f_back  # type: ignore[assignment]


_claim_names()


@contextmanager
def _one_line_errors() -> Iterator[None]:
    try:
        yield
    except (ConfigError, UnknownSellerError, UnknownRegionError, ValueError) as exc:
        raise click.ClickException(str(exc.args[0]) if exc.args else str(exc)) from None


def _command(fn: F) -> F:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        with _one_line_errors():
            return fn(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def _runtime() -> Any:
    from worker.logging import configure_logging
    from worker.runtime import Runtime

    settings = load_settings()
    configure_logging(settings)
    return Runtime(settings)


@click.command(help="Create or upgrade the database schema, and give every seller the streams "
               "this version syncs.\n\nExample: celery -A worker migrate")
@_command
def migrate() -> None:
    from worker.db.engine import migrate as run_migrations
    from worker.db.sellers import list_sellers
    from worker.db.state import ensure_streams
    from worker.sync.catalog import streams_for

    rt = _runtime()
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
@_command
def sandbox(host: str, port: int, n_sellers: int, orders_per_seller: int, seed: int,
            time_scale: float, changes_per_minute: float) -> None:
    from worker.sandbox.app import run
    from worker.sandbox.config import SimConfig

    run(SimConfig(sellers=n_sellers, orders_per_seller=orders_per_seller, seed=seed,
                  time_scale=time_scale, changes_per_minute=changes_per_minute), host, port)


@click.command(help="Run the end-to-end demo: simulator + worker + beat syncing 3 sellers.\n\n"
               "Example: celery -A worker demo --json")
@click.option("--spapi-url", default=None, help="Use this running simulator instead of "
              "starting one.")
@click.option("--json", "as_json", is_flag=True, help="End with one JSON summary line.")
@click.option("--orders-per-seller", default=300, show_default=True, type=click.IntRange(1))
@click.option("--time-scale", default=60.0, show_default=True, type=click.FloatRange(min=1))
@click.option("--timeout", default=110.0, show_default=True, type=click.FloatRange(min=5),
              help="Give up (exit 1) after this many seconds.")
@_command
def demo(spapi_url: str | None, as_json: bool, orders_per_seller: int, time_scale: float,
         timeout: float) -> None:
    from worker.demo import DemoOptions, run_demo

    ok = run_demo(DemoOptions(spapi_url=spapi_url, as_json=as_json,
                              orders_per_seller=orders_per_seller, time_scale=time_scale,
                              timeout=timeout))
    sys.exit(0 if ok else 1)


@click.group(help="Register and inspect sellers.\n\nExample: celery -A worker sellers list")
def sellers() -> None:
    pass


@sellers.command("add", help="Register a seller; the refresh token is read from stdin.\n\n"
                 "Example: echo \"$TOKEN\" | celery -A worker sellers add "
                 "--selling-partner-id A1B2C3 --region NA --marketplace-ids ATVPDKIKX0DER")
@click.option("--selling-partner-id", required=True)
@click.option("--region", required=True, type=click.Choice(["NA", "EU", "FE"],
                                                           case_sensitive=False))
@click.option("--marketplace-ids", required=True, help="Comma-separated.")
@click.option("--orders-api", type=click.Choice(["2026-01-01", "v0"]), default="2026-01-01",
              show_default=True)
@_command
def sellers_add(selling_partner_id: str, region: str, marketplace_ids: str,
                orders_api: str) -> None:
    from worker.db.sellers import upsert_seller
    from worker.spapi.regions import check_marketplaces
    from worker.sync.catalog import streams_for

    mids = [m.strip() for m in marketplace_ids.split(",") if m.strip()]
    check_marketplaces(region, mids)
    token = sys.stdin.readline().strip()
    if not token.startswith("Atzr|"):
        raise click.ClickException("stdin must hold the seller's LWA refresh token (Atzr|...)")
    rt = _runtime()
    with rt.engine.begin() as conn:
        seller_id = upsert_seller(conn, rt.keyring, selling_partner_id=selling_partner_id,
                                  region=region, marketplace_ids=mids, refresh_token=token,
                                  streams=streams_for(mids), orders_api_version=orders_api)
    click.echo(f"seller {selling_partner_id} registered as id {seller_id}")


@sellers.command("list", help="List sellers.\n\nExample: celery -A worker sellers list --json")
@click.option("--json", "as_json", is_flag=True)
@_command
def sellers_list(as_json: bool) -> None:
    from worker.db.sellers import list_sellers

    rt = _runtime()
    with rt.engine.begin() as conn:
        rows = list_sellers(conn)
    data: list[dict[str, Any]] = [
        {"id": r.id, "selling_partner_id": r.selling_partner_id, "region": r.region,
         "marketplace_ids": r.marketplace_ids, "orders_api": r.orders_api_version,
         "enabled": r.enabled, "disabled_reason": r.disabled_reason}
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps(data))
        return
    for d in data:
        state = "enabled" if d["enabled"] else f"disabled ({d['disabled_reason']})"
        click.echo(f"{d['id']:>4}  {d['selling_partner_id']:<16} {d['region']}  "
                   f"{','.join(d['marketplace_ids'])}  orders {d['orders_api']}  {state}")


_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"])


@click.command(help="Backfill history through the Reports API (UTC dates), resumably.\n\n"
               "orders/sales-traffic are split into 30-day reports from --since to --until "
               "(default: now); listings/inventory are one snapshot per marketplace. "
               "Interrupt it any time: the same command resumes without asking Amazon for a "
               "report twice.\n\n"
               "Example: celery -A worker backfill --seller A1B2C3 --stream orders "
               "--since 2024-01-01")
@click.option("--seller", "seller_ref", help="Selling partner id (or spsync id).")
@click.option("--all-sellers", is_flag=True, help="Every enabled seller.")
@click.option("--stream", default="orders", show_default=True,
              type=click.Choice(["orders", "listings", "inventory", "sales-traffic"]))
@click.option("--since", type=_DATE, help="Start of history (orders, sales-traffic).")
@click.option("--until", type=_DATE, help="End of history (default: now).")
@click.option("--dry-run", is_flag=True, help="Show the reports it would create, resume or "
              "skip; call nothing.")
@_command
def backfill(seller_ref: str | None, all_sellers: bool, stream: str, since: datetime | None,
             until: datetime | None, dry_run: bool) -> None:
    from worker.sync.backfill import plan_requests

    if bool(seller_ref) == all_sellers:
        raise click.UsageError("give exactly one of --seller ID or --all-sellers")
    now = datetime.now(UTC)
    start = since.replace(tzinfo=UTC) if since else None
    end = until.replace(tzinfo=UTC) if until else now
    if end > now:
        raise click.UsageError("--until must not be in the future")
    rt = _runtime()
    chosen = _backfill_sellers(rt, seller_ref)
    for seller in chosen:
        plan_requests(seller, stream, start, end)  # bad dates fail before anything runs
    if dry_run:
        _backfill_dry_run(rt, chosen, stream, start, end)
        return
    failures = _backfill_run(rt, chosen, stream, start, end)
    if failures:
        raise click.ClickException(f"{failures} report(s) failed; see above. Re-run the same "
                                   "command to retry them.")


def _backfill_sellers(rt: Any, ref: str | None) -> list[Any]:
    from worker.db.sellers import find_seller, get_seller, list_sellers

    with rt.engine.begin() as conn:
        found = [find_seller(conn, ref)] if ref else [
            s for s in list_sellers(conn) if s.enabled]
        return [get_seller(conn, s.id, rt.keyring) for s in found]


def _backfill_dry_run(rt: Any, chosen: list[Any], stream: str, start: datetime | None,
                      end: datetime) -> None:
    from worker.sync.backfill import dry_run

    for seller in chosen:
        for req, action in dry_run(rt, seller, stream, start, end):
            window = (f"{req.start:%Y-%m-%d %H:%M} .. {req.end:%Y-%m-%d %H:%M}"
                      if req.start and req.end else "snapshot")
            click.echo(f"{seller.selling_partner_id} {req.report_type} "
                       f"{','.join(req.marketplace_ids)} {window}: {action}")


def _backfill_run(rt: Any, chosen: list[Any], stream: str, start: datetime | None,
                  end: datetime) -> int:
    import asyncio
    import time

    from worker.sync.backfill import Progress, backfill_seller, describe

    last: dict[str, float] = {}

    def show(p: Progress) -> None:  # at most once a second per seller, and every report
        now = time.monotonic()
        if now - last.get(p.seller, 0.0) >= 1.0 or p.done == p.total:
            last[p.seller] = now
            click.echo(describe(p))

    async def run_all() -> list[Progress]:
        gate = asyncio.Semaphore(4)  # 2 connections each: within the engine's pool of 10

        async def one(seller: Any) -> Progress:
            async with gate:
                return await backfill_seller(rt, seller, stream, start, end, show)

        return await asyncio.gather(*(one(s) for s in chosen))

    try:
        results = asyncio.run(run_all())
    except KeyboardInterrupt:
        raise click.ClickException("interrupted: run the same command again to resume") from None
    for p in results:
        for failure in p.failures:
            click.echo(f"{p.seller}: {failure}", err=True)
        click.echo(f"done: {describe(p)}")
    return sum(len(p.failures) for p in results)


@click.command(help="Per seller and stream: last success, lag, rows, last error.\n\n"
               "Example: celery -A worker status --json")
@click.option("--json", "as_json", is_flag=True)
@_command
def status(as_json: bool) -> None:
    from worker.status import collect, render

    rt = _runtime()
    with rt.engine.begin() as conn:
        rows = collect(conn)
    click.echo(json.dumps(rows, default=str) if as_json else render(rows))
