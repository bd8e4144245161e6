"""``celery -A worker`` backfill: history through the Reports API, or through the stream's
own API for the kinds Amazon keeps no history report for (finances, payouts, settlements,
order metrics)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import click

from worker.cli.common import cli_runtime, operator_command
from worker.sync.declaration import StreamKind
from worker.sync.registry import KINDS, backfilled, kind, synced

_DATE = click.DateTime(["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M"])


# What --stream takes, from the registry: kinds with history (from --since), and snapshots.
_HISTORY = [k.name for k in backfilled() if k.backfill and k.backfill.window]
_SNAPSHOTS = [k.name for k in backfilled() if k.backfill and not k.backfill.window]
_API = [k.name for k in KINDS if k.api_backfill]  # worker.sync.api_backfill.kinds()
_NONE = [k.name for k in synced() if not k.backfill and not k.api_backfill]


def no_history(kind: StreamKind) -> str:
    """Why ``backfill --stream <kind>`` has nothing to read (a kind with neither backfill)."""
    if kind.refresh is not None and kind.tuning is not None:
        age = kind.tuning.overlap.total_seconds() / 3600
        return (f"{kind.name} cannot be backfilled: {kind.refresh.operation} answers what is "
                f"true now, Amazon keeps no history of it. The {kind.name} stream already "
                f"reads every key missing from {kind.table} or read more than {age:g} h ago "
                "on each run; its history in the mirror starts with the stream.")
    return f"{kind.name} cannot be backfilled: Amazon offers no history for it"


@click.command(help="Backfill history (UTC dates), resumably.\n\n"
               f"{'/'.join(_HISTORY)} are split into 30-day reports from --since to --until "
               f"(default: now); {'/'.join(_SNAPSHOTS)} are one snapshot per marketplace. "
               f"{'/'.join(_API)} are read through their own API from --since to --until "
               "(settlements: every report created since --since, at most 90 days back). "
               "Interrupt it any time: the same command resumes without asking Amazon for a "
               "report or a page twice.\n\n"
               "Example: celery -A worker backfill --seller A1B2C3 --stream orders "
               "--since 2024-01-01")
@click.option("--seller", "seller_ref", help="Selling partner id (or spsync id).")
@click.option("--all-sellers", is_flag=True, help="Every enabled seller.")
@click.option("--stream", default="orders", show_default=True,
              type=click.Choice([k.name for k in backfilled()] + _API + _NONE))
@click.option("--since", type=_DATE,
              help=f"Start of history ({', '.join(_HISTORY + _API)}).")
@click.option("--until", type=_DATE, help="End of history (default: now).")
@click.option("--dry-run", is_flag=True, help="Show the reports it would create, resume or "
              "skip; call nothing.")
@operator_command
def backfill(seller_ref: str | None, all_sellers: bool, stream: str, since: datetime | None,
             until: datetime | None, dry_run: bool) -> None:
    from worker.sync.backfill import batches_of, plan_requests

    if bool(seller_ref) == all_sellers:
        raise click.UsageError("give exactly one of --seller ID or --all-sellers")
    if stream in _NONE:
        raise click.UsageError(no_history(kind(stream)))
    now = datetime.now(UTC)
    start = since.replace(tzinfo=UTC) if since else None
    end = until.replace(tzinfo=UTC) if until else now
    if end > now:
        raise click.UsageError("--until must not be in the future")
    rt = cli_runtime()
    chosen = _backfill_sellers(rt, seller_ref)
    if stream in _API:
        _api_backfill(rt, chosen, stream, start, end, dry_run)
        return
    for seller in chosen:
        # bad dates (or nothing to ask yet) fail before anything runs
        plan_requests(seller, stream, start, end, batches=batches_of(rt, seller, stream))
    if dry_run:
        _backfill_dry_run(rt, chosen, stream, start, end)
        return
    failures = _backfill_run(rt, chosen, stream, start, end)
    if failures:
        raise click.ClickException(f"{failures} report(s) failed; see above. Re-run the same "
                                   "command to retry them.")


def _api_backfill(rt: Any, chosen: list[Any], stream: str, start: datetime | None,
                  end: datetime, dry_run: bool) -> None:
    from worker.sync.api_backfill import backfill_api, describe, plan_window, streams_of

    now = datetime.now(UTC)
    since, until = plan_window(rt, stream, start, end, now)  # bad dates fail before anything
    # One unit per (seller, stream): a kind synced per marketplace has a stream for each.
    units = [(seller, s) for seller in chosen for s in streams_of(stream, seller)]
    if dry_run:
        for seller, s in units:
            click.echo(f"{seller.selling_partner_id} {s} {since:%Y-%m-%d %H:%M} .. "
                       f"{until:%Y-%m-%d %H:%M}: read through the API (resumed if begun)")
        return
    results = _each_seller(
        units, lambda unit, show: backfill_api(rt, unit[0], unit[1], since, until, show),
        describe, lambda p: False)
    failed = sum(1 for p in results if p.failures)
    if failed:
        raise click.ClickException(f"{failed} stream(s) failed; see above. Re-run the same "
                                   "command to resume them.")


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
    from worker.sync.backfill import backfill_seller, describe

    results = _each_seller(  # progress also after every report
        chosen, lambda seller, show: backfill_seller(rt, seller, stream, start, end, show),
        describe, lambda p: bool(p.done == p.total))
    return sum(len(p.failures) for p in results)


def _each_seller(chosen: list[Any], run_one: Callable[[Any, Callable[[Any], None]],
                                                      Awaitable[Any]],
                 describe: Callable[[Any], str], always: Callable[[Any], bool]) -> list[Any]:
    """``run_one(seller, show)`` for every seller (or (seller, stream) pair), four at a time (at
    most two connections each: within the engine's pool of 10); ``show`` prints a seller's
    (stream's) progress at most once a second (and whenever ``always``); then each one's
    failures and its last line."""
    import asyncio
    import time

    last: dict[tuple[str, str], float] = {}

    def show(p: Any) -> None:
        now = time.monotonic()
        key = (p.seller, getattr(p, "stream", ""))
        if now - last.get(key, 0.0) >= 1.0 or always(p):
            last[key] = now
            click.echo(describe(p))

    async def run_all() -> list[Any]:
        gate = asyncio.Semaphore(4)

        async def one(seller: Any) -> Any:
            async with gate:
                return await run_one(seller, show)

        return await asyncio.gather(*(one(s) for s in chosen))

    try:
        results = asyncio.run(run_all())
    except KeyboardInterrupt:
        raise click.ClickException("interrupted: run the same command again to resume") from None
    for p in results:
        for failure in p.failures:
            click.echo(f"{p.seller}: {failure}", err=True)
        click.echo(f"done: {describe(p)}")
    return results
