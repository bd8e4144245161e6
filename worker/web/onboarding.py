"""Connecting a seller after consent: invitation -> code -> identity -> seller -> sync.

Plain async functions; the ``/oauth/callback`` route is a thin shell over :func:`connect`.
What the callback may do is fixed by the invitation its ``state`` came from, and checked
before the code is exchanged: an invitation for a new seller can only create one seller
spsync does not know; one issued by ``sellers reauth B`` can only update B.

The ``selling_partner_id`` of the callback is a query parameter anybody can edit, and LWA's
answer to the code does not say whose account consented. So, after the exchange and before
anything is written, spsync asks Amazon with the new token for the claimed seller's listings
(``searchListingsItems`` takes the seller id and refuses another account's). Until then the
new token is used under a throwaway identity: it never enters the claimed seller's cached
access token or quota buckets. The write is one transaction (seller, encrypted token,
streams, all streams due now, the invitation marked used).
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from worker.db import invitations
from worker.db.invitations import Invitation
from worker.db.sellers import create_seller, seller_exists, upsert_seller
from worker.db.state import make_due
from worker.runtime import Runtime
from worker.spapi.auth import LwaApp, cache_keys, exchange_code
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import AuthError, InputError, NotFoundError
from worker.spapi.regions import MARKETPLACES
from worker.sync.catalog import streams_for
from worker.web.oauth_state import PendingConsent

log = structlog.get_logger(__name__)

Enqueue = Callable[[int], list[tuple[int, str]]]


class OnboardingError(Exception):
    """The seller could not be connected; ``args[0]`` is safe to show on the page."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Callback:
    """What Amazon's redirect brought, with what its ``state`` allows."""

    code: str = ""
    redirect_uri: str = ""
    selling_partner_id: str = ""
    consent: PendingConsent | None = None


@dataclass(frozen=True)
class Connected:
    seller_id: int
    selling_partner_id: str
    region: str
    marketplace_ids: list[str]
    reconnected: bool  # the seller existed (re-authorized)
    queued: list[str]  # the streams whose first sync was enqueued


def marketplaces_in(payload: Any, region: str) -> list[str]:
    """Marketplace ids of ``region`` the seller participates in (getMarketplaceParticipations).

    Marketplaces spsync does not know (e.g. Amazon's non-retail ones) are left out.
    """
    out: list[str] = []
    entries = payload if isinstance(payload, list) else []
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        market = entry.get("marketplace") or {}
        participation = entry.get("participation") or {}
        mid = market.get("id") if isinstance(market, dict) else None
        if not isinstance(mid, str) or not isinstance(participation, dict):
            continue
        known = MARKETPLACES.get(mid)
        if known and known[0] == region and participation.get("isParticipating") is True \
                and mid not in out:
            out.append(mid)
    return out


def admit(rt: Runtime, consent: PendingConsent, spid: str, now: datetime) -> Invitation:
    """The invitation, if it lets this callback name ``spid``; else :class:`OnboardingError`.

    Runs before the code is exchanged: a refused callback costs Amazon nothing and writes
    nothing."""
    with rt.engine.begin() as conn:
        invitation = invitations.get(conn, consent.invitation_id)
        if invitation is None or invitation.state(now) != "open":
            raise OnboardingError("This onboarding link has been used, revoked or has expired. "
                                  "Nothing was stored; ask your operator for a new one.", 403)
        if not invitation.for_new_seller:
            if spid != invitation.selling_partner_id:
                raise OnboardingError("This link re-authorizes another seller than the one "
                                      "Amazon named. Nothing was stored; sign in with the "
                                      "account the link was issued for.", 403)
            return invitation
        if not seller_exists(conn, spid):
            return invitation
    raise OnboardingError(f"Seller {spid} is already connected. Nothing was stored; to renew "
                          "its authorization, ask your operator for a re-authorization link "
                          f"(celery -A worker sellers reauth {spid}).", 409)


async def connect(
    rt: Runtime, client: SpApiClient, session: Any, redis: Any, app: LwaApp, cb: Callback, *,
    enqueue: Enqueue, verify_seller: bool = True,
) -> Connected:
    """Check the callback, exchange its code, prove the seller, store it, queue its sync."""
    assert cb.consent is not None
    spid, region = cb.selling_partner_id, cb.consent.region
    invitation = await asyncio.to_thread(admit, rt, cb.consent, spid, datetime.now(UTC))
    grant = await exchange_code(session, app, cb.code, cb.redirect_uri, seller=spid)
    probe = SellerAuth(f"onboarding-{invitation.id}-{secrets.token_hex(4)}", region,
                       grant.refresh_token)
    try:
        mids = await _marketplaces(client, probe, spid, region)
        if verify_seller:
            await _prove_identity(client, probe, spid, mids[0])
    finally:
        await redis.delete(*cache_keys(probe.selling_partner_id))
    seller_id, existed = await asyncio.to_thread(
        _store, rt, invitation, spid, region, mids, grant.refresh_token)
    # A cached token or a refresh error published before re-authorization is stale now.
    await redis.delete(*cache_keys(spid))
    queued = await asyncio.to_thread(enqueue, seller_id)
    log.info("oauth.seller_connected", seller=spid, region=region, marketplaces=mids,
             reconnected=existed, queued=len(queued), invitation=invitation.id)
    return Connected(seller_id, spid, region, mids, existed, [stream for _, stream in queued])


async def _marketplaces(client: SpApiClient, probe: SellerAuth, spid: str,
                        region: str) -> list[str]:
    resp = await client.call(probe, "getMarketplaceParticipations")
    payload = resp.body.get("payload") if isinstance(resp.body, dict) else None
    mids = marketplaces_in(payload, region)
    if not mids:
        raise OnboardingError(f"seller {spid} sells in no marketplace of region {region} that "
                              "spsync knows; nothing was stored")
    return mids


async def _prove_identity(client: SpApiClient, probe: SellerAuth, spid: str,
                          marketplace_id: str) -> None:
    """Amazon answers ``searchListingsItems`` for ``sellerId`` only with that seller's
    authorization: a refusal means the consenting account is not ``spid``."""
    try:
        await client.call(probe, "searchListingsItems", path_params={"sellerId": spid},
                          query={"marketplaceIds": [marketplace_id], "pageSize": 1})
    except (AuthError, InputError, NotFoundError) as exc:
        log.warning("oauth.identity_refused", seller=spid, status=exc.status, code=exc.code)
        raise OnboardingError(f"Amazon does not confirm that the account which signed in is "
                              f"seller {spid}. Nothing was stored.", 403) from None


def _store(rt: Runtime, invitation: Invitation, spid: str, region: str, mids: list[str],
           refresh_token: str) -> tuple[int, bool]:
    with rt.engine.begin() as conn:
        if not invitations.consume(conn, invitation.id, spid, datetime.now(UTC)):
            raise OnboardingError("This onboarding link was used or revoked meanwhile. "
                                  "Nothing was stored.", 409)
        if invitation.for_new_seller:
            seller_id = create_seller(conn, rt.keyring, selling_partner_id=spid, region=region,
                                      marketplace_ids=mids, refresh_token=refresh_token,
                                      streams=streams_for(mids), name=invitation.name)
            if seller_id is None:  # connected by another invitation since admit()
                raise OnboardingError(f"Seller {spid} is already connected. Nothing was "
                                      "stored.", 409)
        else:
            seller_id = upsert_seller(conn, rt.keyring, selling_partner_id=spid, region=region,
                                      marketplace_ids=mids, refresh_token=refresh_token,
                                      streams=streams_for(mids), name=invitation.name)
        make_due(conn, seller_id)
    return seller_id, not invitation.for_new_seller


def dispatch_now(seller_id: int) -> list[tuple[int, str]]:
    """The default :data:`Enqueue`: the dispatcher, limited to this seller."""
    from worker.runtime import get_runtime
    from worker.sync.dispatch import dispatch

    return dispatch(get_runtime(), datetime.now(UTC), seller_id=seller_id)
