"""Connecting a seller after consent: code -> refresh token -> marketplaces -> seller -> sync.

Plain async functions; the ``/oauth/callback`` route is a thin shell over :func:`connect`.
Nothing is stored unless every step before the write succeeded, and the write is one
transaction (seller, encrypted token, streams, all streams due now).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog

from worker.db.sellers import UnknownSellerError, find_seller, upsert_seller
from worker.db.state import make_due
from worker.runtime import Runtime
from worker.spapi.auth import LwaApp, cache_keys, exchange_code
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.regions import MARKETPLACES
from worker.sync.catalog import streams_for

log = structlog.get_logger(__name__)

Enqueue = Callable[[int], list[tuple[int, str]]]


class OnboardingError(Exception):
    """The seller could not be connected; ``args[0]`` is safe to show on the page."""


@dataclass(frozen=True)
class Connected:
    seller_id: int
    selling_partner_id: str
    region: str
    marketplace_ids: list[str]
    reconnected: bool  # the seller existed (re-authorized, or re-enabled)
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


async def connect(
    rt: Runtime, client: SpApiClient, session: Any, redis: Any, app: LwaApp, *, code: str,
    redirect_uri: str, selling_partner_id: str, region: str, enqueue: Enqueue,
) -> Connected:
    """Exchange ``code``, find the seller's marketplaces, store the seller, queue its sync."""
    grant = await exchange_code(session, app, code, redirect_uri, seller=selling_partner_id)
    # A cached token or a refresh error published before re-authorization is stale now.
    await redis.delete(*cache_keys(selling_partner_id))
    auth = SellerAuth(selling_partner_id, region, grant.refresh_token)
    resp = await client.call(auth, "getMarketplaceParticipations")
    payload = resp.body.get("payload") if isinstance(resp.body, dict) else None
    mids = marketplaces_in(payload, region)
    if not mids:
        raise OnboardingError(f"seller {selling_partner_id} sells in no marketplace of region "
                              f"{region} that spsync knows; nothing was stored")
    seller_id, existed = await asyncio.to_thread(
        _store, rt, selling_partner_id, region, mids, grant.refresh_token)
    queued = await asyncio.to_thread(enqueue, seller_id)
    log.info("oauth.seller_connected", seller=selling_partner_id, region=region,
             marketplaces=mids, reconnected=existed, queued=len(queued))
    return Connected(seller_id, selling_partner_id, region, mids, existed,
                     [stream for _, stream in queued])


def _store(rt: Runtime, selling_partner_id: str, region: str, mids: list[str],
           refresh_token: str) -> tuple[int, bool]:
    with rt.engine.begin() as conn:
        try:
            find_seller(conn, selling_partner_id)
            existed = True
        except UnknownSellerError:
            existed = False
        seller_id = upsert_seller(conn, rt.keyring, selling_partner_id=selling_partner_id,
                                  region=region, marketplace_ids=mids,
                                  refresh_token=refresh_token, streams=streams_for(mids))
        make_due(conn, seller_id)
    return seller_id, existed


def dispatch_now(seller_id: int) -> list[tuple[int, str]]:
    """The default :data:`Enqueue`: the dispatcher, limited to this seller."""
    from schedules.dispatch import dispatch_due

    return dispatch_due(seller_id=seller_id)
