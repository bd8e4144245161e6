"""``celery -A worker`` sellers add|list|show|enable|disable|reauth."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import click
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from worker.cli.common import cli_runtime, operator_command


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
@click.option("--finances-api", type=click.Choice(["2024-06-19", "v0"]),
              help="Finances API for transactions (default: 2024-06-19 for a new seller, "
              "unchanged for a known one; a sync moves a seller Amazon refuses "
              "listTransactions to v0 by itself).")
@operator_command
def sellers_add(selling_partner_id: str, region: str, marketplace_ids: str,
                orders_api: str, finances_api: str | None) -> None:
    from worker.db.sellers import upsert_seller
    from worker.spapi.identifiers import check_selling_partner_id
    from worker.spapi.regions import check_marketplaces
    from worker.sync.catalog import streams_for

    check_selling_partner_id(selling_partner_id)
    mids = [m.strip() for m in marketplace_ids.split(",") if m.strip()]
    check_marketplaces(region, mids)
    token = _read_refresh_token()
    rt = cli_runtime()
    with rt.engine.begin() as conn:
        seller_id = upsert_seller(conn, rt.keyring, selling_partner_id=selling_partner_id,
                                  region=region, marketplace_ids=mids, refresh_token=token,
                                  streams=streams_for(mids), orders_api_version=orders_api,
                                  finances_api_version=finances_api)
    click.echo(f"seller {selling_partner_id} registered as id {seller_id}")


@sellers.command("list", help="List sellers.\n\nExample: celery -A worker sellers list --json")
@click.option("--json", "as_json", is_flag=True)
@operator_command
def sellers_list(as_json: bool) -> None:
    from worker.db.sellers import list_sellers

    rt = cli_runtime()
    with rt.engine.begin() as conn:
        rows = list_sellers(conn)
    data: list[dict[str, Any]] = [
        {"id": r.id, "selling_partner_id": r.selling_partner_id, "region": r.region,
         "marketplace_ids": r.marketplace_ids, "orders_api": r.orders_api_version,
         "finances_api": r.finances_api_version, "enabled": r.enabled,
         "disabled_reason": r.disabled_reason}
        for r in rows
    ]
    if as_json:
        click.echo(json.dumps(data))
        return
    for d in data:
        state = "enabled" if d["enabled"] else f"disabled ({d['disabled_reason']})"
        click.echo(f"{d['id']:>4}  {d['selling_partner_id']:<16} {d['region']}  "
                   f"{','.join(d['marketplace_ids'])}  orders {d['orders_api']}  "
                   f"finances {d['finances_api']}  {state}")


@sellers.command("show", help="One seller: its settings (never its refresh token, only "
                 "whether one is stored and under which key id), its streams (cursor, last "
                 "success, lag, last error, next due; times in UTC) and its last 5 sync runs. "
                 "SELLER is the selling partner id or the spsync id.\n\n"
                 "Example: celery -A worker sellers show A1B2C3 --json")
@click.argument("seller_ref", metavar="SELLER")
@click.option("--json", "as_json", is_flag=True, help="One JSON object.")
@operator_command
def sellers_show(seller_ref: str, as_json: bool) -> None:
    from worker.db.sellers import describe_seller, find_seller
    from worker.status import render_seller, seller_runs, seller_streams

    rt = cli_runtime()
    with rt.engine.begin() as conn:
        seller_id = find_seller(conn, seller_ref).id
        seller = describe_seller(conn, seller_id)
        streams = seller_streams(conn, seller_id)
        runs = seller_runs(conn, seller_id, limit=5)
    if as_json:
        click.echo(json.dumps({**seller, "streams": streams, "runs": runs}, default=str))
    else:
        click.echo(render_seller(seller, streams, runs))


@sellers.command("enable", help="Resume syncing a seller: clears its disabled reason (and "
                 "that of each stream Amazon refused it, to try them again) and "
                 "forgets its cached LWA access token and refresh failure in Redis, so the next "
                 "sync asks LWA again; its streams are due at once. A seller whose refresh "
                 "token LWA rejected (invalid_grant) usually needs a new one instead: see "
                 "`sellers reauth`.\n\n"
                 "Example: celery -A worker sellers enable A1B2C3")
@click.argument("seller_ref", metavar="SELLER")
@operator_command
def sellers_enable(seller_ref: str) -> None:
    from worker.db.sellers import enable_seller, find_seller
    from worker.db.state import make_due

    rt = cli_runtime()
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
@operator_command
def sellers_disable(seller_ref: str, reason: str) -> None:
    from worker.db.sellers import disable_seller, find_seller

    if not reason.strip():
        raise click.UsageError("--reason must not be empty")
    rt = cli_runtime()
    with rt.engine.begin() as conn:
        seller = find_seller(conn, seller_ref)
        disable_seller(conn, seller.id, reason.strip())
    click.echo(f"seller {seller.selling_partner_id} disabled: {reason.strip()[:500]}")


@sellers.command("reauth", help="Re-authorize a seller (e.g. after invalid_grant disabled "
                 "it). By default prints an onboarding link bound to this seller: the seller "
                 "opens it, consents on Seller Central, and the web app stores the new token; "
                 "the link can renew this seller only and is used once. --token-stdin instead "
                 "reads a new LWA refresh token from stdin and stores it at once: encrypted, "
                 "the seller re-enabled, its cached access token and refresh failure in Redis "
                 "dropped.\n\n"
                 "Example: celery -A worker sellers reauth A1B2C3\n\n"
                 "Example: echo \"$TOKEN\" | celery -A worker sellers reauth A1B2C3 --token-stdin")
@click.argument("seller_ref", metavar="SELLER")
@click.option("--token-stdin", is_flag=True, help="Read the new refresh token from stdin.")
@click.option("--expires-hours", type=click.FloatRange(1 / 60, 720), default=None,
              help="How long the link works (default SPSYNC_WEB_INVITATION_HOURS, 72).")
@click.option("--base-url", default=None, help="The web app's public URL (default "
              "SPSYNC_WEB_BASE_URL).")
@operator_command
def sellers_reauth(seller_ref: str, token_stdin: bool, expires_hours: float | None,
                   base_url: str | None) -> None:
    if not token_stdin:
        from worker.cli.invitations import issue_link

        issue_link(seller_ref=seller_ref, region=None, name=None, expires_hours=expires_hours,
                   base_url=base_url)
        return
    from worker.db.sellers import find_seller, set_refresh_token
    from worker.db.state import make_due

    token = _read_refresh_token()
    rt = cli_runtime()
    with rt.engine.begin() as conn:
        seller = find_seller(conn, seller_ref)
        kid = set_refresh_token(conn, rt.keyring, seller.id, token)
        make_due(conn, seller.id)
    done = (f"seller {seller.selling_partner_id} re-authorized (token encrypted with key "
            f"{kid}) and enabled")
    _forget_lwa_state(rt, seller.selling_partner_id, done)
    click.echo(done)


# An LWA refresh token is "Atzr|" and a few hundred printable ASCII characters
_REFRESH_TOKEN = re.compile(r"Atzr\|[\x21-\x7e]{1,2043}")


def _read_refresh_token() -> str:
    token = sys.stdin.readline().strip()
    if not _REFRESH_TOKEN.fullmatch(token):  # never echo it: it is a secret
        raise click.ClickException("stdin must hold the seller's LWA refresh token: Atzr|... "
                                   "(printable ASCII, no spaces or control characters, at "
                                   "most 2,048 characters)")
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


