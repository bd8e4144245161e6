"""``celery -A worker sellers`` invite|invitations|revoke-invitation: onboarding links.

The web app's ``/oauth/start`` opens only for a link made here (or by ``sellers reauth``).
The link's secret is printed once and stored only as a hash.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import click

from worker.cli.common import cli_runtime, operator_command
from worker.cli.sellers import sellers

# Where `celery -A worker web` listens by default, for a link made without a public URL.
_LOCAL_WEB = "http://127.0.0.1:8080"


@sellers.command("invite", help="Print a single-use onboarding link for a new seller. The "
                 "seller opens it, consents on Seller Central, and the web app (celery -A "
                 "worker web) stores the seller and starts its sync. The link connects one "
                 "seller spsync does not know yet, never an existing one, and stops working "
                 "once used, revoked or expired. The link is printed once: send it privately.\n\n"
                 "Example: celery -A worker sellers invite --name \"Acme EU\" --region EU")
@click.option("--name", default=None, help="A label for the seller (at most 200 characters).")
@click.option("--region", type=click.Choice(["NA", "EU", "FE"], case_sensitive=False),
              default=None, help="Where the seller sells; without it the link asks "
              "(&region=na|eu|fe).")
@click.option("--expires-hours", type=click.FloatRange(1 / 60, 720), default=None,
              help="How long the link works (default SPSYNC_WEB_INVITATION_HOURS, 72).")
@click.option("--base-url", default=None, help="The web app's public URL (default "
              "SPSYNC_WEB_BASE_URL).")
@operator_command
def sellers_invite(name: str | None, region: str | None, expires_hours: float | None,
                   base_url: str | None) -> None:
    if name is not None:
        name = name.strip()
        if not name or len(name) > 200 or not name.isprintable():
            raise click.UsageError("--name must be 1 to 200 printable characters")
    issue_link(seller_ref=None, region=region.upper() if region else None, name=name,
               expires_hours=expires_hours, base_url=base_url)


def issue_link(*, seller_ref: str | None, region: str | None, name: str | None,
               expires_hours: float | None, base_url: str | None) -> None:
    """Create an invitation (bound to ``seller_ref`` if given) and print its link."""
    from worker.db import invitations
    from worker.db.sellers import find_seller

    rt = cli_runtime()
    base = _base_url(base_url, rt.settings.web_base_url)
    hours = expires_hours if expires_hours is not None else rt.settings.web_invitation_hours
    with rt.engine.begin() as conn:
        seller = find_seller(conn, seller_ref) if seller_ref is not None else None
        token, inv = invitations.create(
            conn, now=datetime.now(UTC), ttl=timedelta(hours=hours),
            region=seller.region if seller else region, name=name,
            seller_id=seller.id if seller else None)
    what = f"re-authorizes seller {seller.selling_partner_id}" if seller else \
        "connects one new seller"
    click.echo(invitations.link(base, token))
    click.echo(f"invitation {inv.id} {what}; single use, expires {_utc(inv.expires_at)} UTC "
               f"(revoke: celery -A worker sellers revoke-invitation {inv.id})", err=True)


def _utc(when: datetime) -> str:
    return f"{when.astimezone(UTC):%Y-%m-%d %H:%M}"


def _base_url(option: str | None, configured: Any) -> str:
    from urllib.parse import urlsplit

    base = option or (str(configured) if configured else None)
    if base is None:
        click.echo(f"SPSYNC_WEB_BASE_URL is not set: the link points at {_LOCAL_WEB}, the web "
                   "app's default local address", err=True)
        return _LOCAL_WEB
    parts = urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query:
        raise click.UsageError(f"--base-url must be an http(s) URL like https://spsync.example."
                               f"com, not {base[:100]!r}")
    return base


@sellers.command("invitations", help="List recent onboarding invitations and their state "
                 "(open, used, revoked, expired). Links are never shown again.\n\n"
                 "Example: celery -A worker sellers invitations --json")
@click.option("--json", "as_json", is_flag=True, help="One JSON array.")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@operator_command
def sellers_invitations(as_json: bool, limit: int) -> None:
    from worker.db import invitations

    rt = cli_runtime()
    now = datetime.now(UTC)
    with rt.engine.begin() as conn:
        rows = invitations.recent(conn, limit)
    data = [{"id": i.id, "state": i.state(now), "for": i.selling_partner_id or "new seller",
             "region": i.region, "name": i.name, "created_at": i.created_at,
             "expires_at": i.expires_at, "used_at": i.used_at, "used_by": i.used_by}
            for i in rows]
    if as_json:
        click.echo(json.dumps(data, default=str))
        return
    for i in rows:
        used = f"  by {i.used_by}" if i.used_by else ""
        click.echo(f"{i.id:>5}  {i.state(now):<8} {i.selling_partner_id or 'new seller':<16} "
                   f"{i.region or '-':<3} expires {_utc(i.expires_at)}{used}  {i.name or ''}")


@sellers.command("revoke-invitation", help="Stop an onboarding link from working (one not "
                 "used yet).\n\nExample: celery -A worker sellers revoke-invitation 12")
@click.argument("invitation_id", type=click.IntRange(1, 2**63 - 1))
@operator_command
def sellers_revoke_invitation(invitation_id: int) -> None:
    from worker.db import invitations

    rt = cli_runtime()
    with rt.engine.begin() as conn:
        done = invitations.revoke(conn, invitation_id)
    if not done:
        raise click.ClickException(f"no open invitation {invitation_id} (unknown, used or "
                                   "already revoked)")
    click.echo(f"invitation {invitation_id} revoked")
