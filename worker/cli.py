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
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

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
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise click.ClickException(f"Redis unreachable: {exc}") from None


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
    token = _read_refresh_token()
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


@sellers.command("show", help="One seller: its settings (never its refresh token, only "
                 "whether one is stored and under which key id), its streams (cursor, last "
                 "success, lag, last error, next due; times in UTC) and its last 5 sync runs. "
                 "SELLER is the selling partner id or the spsync id.\n\n"
                 "Example: celery -A worker sellers show A1B2C3 --json")
@click.argument("seller_ref", metavar="SELLER")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@_command
def sellers_show(seller_ref: str, as_json: bool) -> None:
    from worker.db.sellers import describe_seller, find_seller
    from worker.status import render_seller, seller_runs, seller_streams

    rt = _runtime()
    with rt.engine.begin() as conn:
        seller_id = find_seller(conn, seller_ref).id
        seller = describe_seller(conn, seller_id)
        streams = seller_streams(conn, seller_id)
        runs = seller_runs(conn, seller_id, limit=5)
    if as_json:
        click.echo(json.dumps({**seller, "streams": streams, "runs": runs}, default=str))
    else:
        click.echo(render_seller(seller, streams, runs))


@sellers.command("enable", help="Resume syncing a seller: clears its disabled reason and "
                 "forgets its cached LWA access token and refresh failure in Redis, so the next "
                 "sync asks LWA again; its streams are due at once. A seller whose refresh "
                 "token LWA rejected (invalid_grant) usually needs a new one instead: see "
                 "`sellers reauth`.\n\n"
                 "Example: celery -A worker sellers enable A1B2C3")
@click.argument("seller_ref", metavar="SELLER")
@_command
def sellers_enable(seller_ref: str) -> None:
    from worker.db.sellers import enable_seller, find_seller
    from worker.db.state import make_due

    rt = _runtime()
    with rt.engine.begin() as conn:
        seller = find_seller(conn, seller_ref)
        enable_seller(conn, seller.id)
        make_due(conn, seller.id)  # sync now, not one interval later
    done = f"seller {seller.selling_partner_id} enabled"
    _forget_lwa_state(rt, seller.selling_partner_id, done)
    click.echo(done)


@sellers.command("disable", help="Stop syncing a seller: the dispatcher no longer schedules "
                 "its streams and queued syncs are skipped (a sync already running finishes "
                 "its current run). Its data and cursors are kept; `sellers enable` resumes "
                 "where it stopped.\n\n"
                 "Example: celery -A worker sellers disable A1B2C3 --reason \"account closed\"")
@click.argument("seller_ref", metavar="SELLER")
@click.option("--reason", default="disabled by operator", show_default=True,
              help="Shown by status, sellers list and sellers show.")
@_command
def sellers_disable(seller_ref: str, reason: str) -> None:
    from worker.db.sellers import disable_seller, find_seller

    if not reason.strip():
        raise click.UsageError("--reason must not be empty")
    rt = _runtime()
    with rt.engine.begin() as conn:
        seller = find_seller(conn, seller_ref)
        disable_seller(conn, seller.id, reason.strip())
    click.echo(f"seller {seller.selling_partner_id} disabled: {reason.strip()[:500]}")


@sellers.command("reauth", help="Give a seller a new LWA refresh token, read from stdin (e.g. "
                 "after invalid_grant disabled it): stores it encrypted, re-enables the seller "
                 "and drops its cached access token and refresh failure in Redis, so the next "
                 "sync uses the new token. The other way to re-authorize is the web onboarding "
                 "flow: the seller opens /oauth/start and consents again.\n\n"
                 "Example: echo \"$TOKEN\" | celery -A worker sellers reauth A1B2C3")
@click.argument("seller_ref", metavar="SELLER")
@_command
def sellers_reauth(seller_ref: str) -> None:
    from worker.db.sellers import find_seller, set_refresh_token
    from worker.db.state import make_due

    token = _read_refresh_token()
    rt = _runtime()
    with rt.engine.begin() as conn:
        seller = find_seller(conn, seller_ref)
        kid = set_refresh_token(conn, rt.keyring, seller.id, token)
        make_due(conn, seller.id)
    done = (f"seller {seller.selling_partner_id} re-authorized (token encrypted with key "
            f"{kid}) and enabled")
    _forget_lwa_state(rt, seller.selling_partner_id, done)
    click.echo(done)


def _read_refresh_token() -> str:
    token = sys.stdin.readline().strip()
    if not token.startswith("Atzr|"):
        raise click.ClickException("stdin must hold the seller's LWA refresh token (Atzr|...)")
    return token


def _forget_lwa_state(rt: Any, spid: str, done: str) -> None:
    """Delete the seller's cached access token and published refresh failure in Redis."""
    from worker.spapi.auth import cache_keys

    client = rt.redis()
    try:
        client.delete(*cache_keys(spid))
    except (RedisConnectionError, RedisTimeoutError) as exc:
        raise click.ClickException(
            f"{done}, but Redis is unreachable ({exc}), so its cached LWA state is not "
            "cleared: run the same command again once Redis is back") from None
    finally:
        client.close()


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


@click.command(help="Per seller and stream: last success, lag, rows, last error, and how "
               "full its quota bucket is (fill: share of the burst in use; over 100% means "
               "calls are queued for quota). Also the number of tasks waiting in the Celery "
               "queue (n/a for an AMQP broker; null in --json).\n\n"
               "Example: celery -A worker status --json")
@click.option("--json", "as_json", is_flag=True,
              help='One JSON object: {"queue_depth": N, "streams": [...]}.')
@_command
def status(as_json: bool) -> None:
    from worker.app import app
    from worker.status import add_bucket_fill, collect, queue_depth, render

    rt = _runtime()
    with rt.engine.begin() as conn:
        rows = collect(conn)
    client = rt.redis()
    try:
        add_bucket_fill(client, rows)
    finally:
        client.close()
    queue = str(app.conf.task_default_queue)
    depth = queue_depth(rt.settings.broker_url or rt.services.redis_url, queue)
    if as_json:
        click.echo(json.dumps({"queue_depth": depth, "streams": rows}, default=str))
    else:
        click.echo(render(rows, depth, queue))


@click.command(help="Serve seller onboarding (/oauth/start?region=na|eu|fe, /oauth/callback), "
               "/healthz and /metrics.\n\n"
               "The OAuth redirect URI is SPSYNC_WEB_BASE_URL (default: http://HOST:PORT) + "
               "/oauth/callback; register it with your SP-API application, whose id is "
               "SPSYNC_LWA_APP_ID. --spapi-url sends consent, LWA and SP-API to a running "
               "simulator instead (and uses its demo application when no LWA credentials are "
               "set).\n\n"
               "Example: celery -A worker web --port 8080 --spapi-url http://127.0.0.1:8700")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option("--spapi-url", default=None, help="A running simulator (celery -A worker sandbox).")
@_command
def web(host: str, port: int, spapi_url: str | None) -> None:
    from worker.logging import configure_logging
    from worker.web.app import run
    from worker.web.setup import web_deps

    settings = load_settings()
    configure_logging(settings)
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104 - a comparison
    public = str(settings.web_base_url or f"http://{local}:{port}").rstrip("/")
    if spapi_url:
        _check_simulator(spapi_url)
    run(web_deps(settings, public_url=public, spapi_url=spapi_url), host, port)


def _check_simulator(url: str) -> None:
    from urllib.error import URLError

    from worker.sandbox.remote import SandboxClient

    try:
        SandboxClient(url, timeout=5).sellers()
    except (URLError, OSError, ValueError) as exc:
        raise click.ClickException(f"no simulator answers at {url} ({exc})") from None


@click.command("rotate-key", help="Re-encrypt every stored refresh token with the first key "
               "of SPSYNC_TOKEN_KEYS. Run it after every process (workers, beat, web) lists the "
               "new key first and still lists the old ones; drop an old key only once this "
               "reports nothing left under it. Interrupt it any time: it commits each batch, and "
               "running it again continues.\n\n"
               "Example: SPSYNC_TOKEN_KEYS=k2:NEWKEY,k1:OLDKEY celery -A worker rotate-key")
@click.option("--batch", default=100, show_default=True, type=click.IntRange(1, 10_000),
              help="Sellers per transaction.")
@_command
def rotate_key(batch: int) -> None:
    from worker.db.key_rotation import Rotation, pending, rotate

    rt = _runtime()
    keyring = rt.keyring
    todo = pending(rt.engine, keyring.primary)
    click.echo(f"{todo} token(s) to re-encrypt with key {keyring.primary}")

    def show(r: Rotation) -> None:
        click.echo(f"  {r.rotated}/{todo} re-encrypted")

    try:
        result = rotate(rt.engine, keyring, batch=batch, progress=show)
    except KeyboardInterrupt:
        raise click.ClickException("interrupted: what was re-encrypted is kept; run the same "
                                   "command again to finish") from None
    click.echo(f"done: {result.rotated} re-encrypted, {result.already_current} already under "
               f"{keyring.primary}, {result.left} left")
    if result.unreadable:
        raise click.ClickException(
            f"{len(result.unreadable)} seller(s) have a token under a key that is not in "
            f"SPSYNC_TOKEN_KEYS: {', '.join(result.unreadable[:10])}; add that key back, or "
            "re-authorize them (sellers reauth)")
