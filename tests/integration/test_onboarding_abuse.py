"""Onboarding as an attacker would try it: no invitation, someone else's seller id, another
seller's re-authorization link, garbage ids, replays and races. Each refusal stores nothing,
leaves the victim's token, region, marketplaces and Redis state as they were, and (where
the identity is wrong on its face) never exchanges the code."""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import aiohttp
import pytest
import redis as sync_redis
from sqlalchemy import text

from worker.db.sellers import find_seller, get_seller

from .helpers import table
from .webkit import Site, consent_redirect, count_sellers, lwa_grants

pytestmark = pytest.mark.integration


def _with_seller(callback: str, spid: str) -> str:
    """The callback URL with its ``selling_partner_id`` replaced (percent-encoded)."""
    parts = urlsplit(callback)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()} | {"selling_partner_id": spid}
    return urlunsplit(parts._replace(query=urlencode(query)))


async def _fetch(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as resp:
        return resp.status, await resp.text()


def _snapshot(site: Site) -> tuple[Any, ...]:
    """Everything an onboarding could change: sellers (token included), streams, Redis."""
    sellers = table(site.rt, "SELECT * FROM sellers ORDER BY id")
    streams = table(site.rt, "SELECT seller_id, stream FROM sync_state ORDER BY 1, 2")
    r = sync_redis.Redis.from_url(site.rt.services.redis_url)
    keys = {k: r.get(k) for k in sorted(r.scan_iter("lwa:*"))}
    return sellers, streams, keys


async def _connect(site: Site, sim: Any, seller: dict[str, Any]) -> None:
    """``seller`` connects through a proper invitation (the victim, before the attack)."""
    sim.client.consent_as(seller["selling_partner_id"])
    status, _, body = await site.get(site.invite(seller["region"]))
    assert status == 200 and "connected" in body, body


def _two_na_sellers(sim: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    na = [s for s in sim.world()["sellers"] if s["region"] == "NA"]
    return na[0], na[1]


async def test_start_without_an_invitation_is_refused_and_issues_no_state(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    r = sync_redis.Redis.from_url(site.rt.services.redis_url)
    for path in ("/oauth/start?region=na", "/oauth/start?invitation=forged&region=na",
                 "/oauth/start?invitation=" + "A" * 43, "/oauth/start?invitation=%00"):
        status, _, body = await site.get(path, allow_redirects=False)
        assert status == 403 and "sellers invite" in body, path
    assert list(r.scan_iter("spsync:oauth:state:*")) == []


async def test_a_new_seller_link_cannot_take_over_an_existing_seller(start_sim, make_site):
    sim = start_sim(sellers=4, orders_per_seller=1)
    victim, attacker = _two_na_sellers(sim)
    site = await make_site(sim)
    await _connect(site, sim, victim)
    before, grants = _snapshot(site), lwa_grants(sim)

    sim.client.consent_as(attacker["selling_partner_id"])  # the attacker's own account
    callback = await consent_redirect(site, site.invite())
    status, body = await _fetch(_with_seller(callback, victim["selling_partner_id"]))

    assert status == 409 and "already connected" in body
    assert lwa_grants(sim) == grants  # refused before the code was exchanged
    assert _snapshot(site) == before


async def test_a_new_seller_link_cannot_register_someone_elses_id(start_sim, make_site):
    """The victim is not connected yet: the callback's id passes every local check, and only
    Amazon can say that the consenting account is not that seller."""
    sim = start_sim(sellers=4, orders_per_seller=1)
    victim, attacker = _two_na_sellers(sim)
    site = await make_site(sim)
    sim.client.consent_as(attacker["selling_partner_id"])
    start = site.invite()
    callback = await consent_redirect(site, start)
    before = _snapshot(site)

    status, body = await _fetch(_with_seller(callback, victim["selling_partner_id"]))

    assert status == 403 and "does not confirm" in body
    assert count_sellers(site.rt) == 0 and _snapshot(site) == before
    # The link stays usable for the seller it was meant for.
    status, _, body = await site.get(start)
    assert status == 200 and attacker["selling_partner_id"] in body


async def test_a_reauth_link_only_ever_updates_its_own_seller(start_sim, make_site):
    sim = start_sim(sellers=4, orders_per_seller=1)
    victim, attacker = _two_na_sellers(sim)
    site = await make_site(sim)
    await _connect(site, sim, victim)
    await _connect(site, sim, attacker)
    before, grants = _snapshot(site), lwa_grants(sim)

    # A link re-authorizing the attacker, used to name the victim: refused before exchange.
    sim.client.consent_as(attacker["selling_partner_id"])
    callback = await consent_redirect(site, site.invite(seller=attacker["selling_partner_id"]))
    status, body = await _fetch(_with_seller(callback, victim["selling_partner_id"]))
    assert status == 403 and "another seller" in body
    # A link re-authorizing the victim, consented to by the attacker's account.
    callback = await consent_redirect(site, site.invite(seller=victim["selling_partner_id"]))
    status, body = await _fetch(callback)
    assert status == 403 and "another seller" in body
    assert lwa_grants(sim) == grants
    # ... and with the callback's id forged to match: Amazon does not confirm it.
    status, body = await _fetch(_with_seller(
        await consent_redirect(site, site.invite(seller=victim["selling_partner_id"])),
        victim["selling_partner_id"]))
    assert status == 403 and "does not confirm" in body
    assert _snapshot(site) == before


async def test_a_reauth_link_renews_its_seller_once(start_sim, make_site):
    sim = start_sim(sellers=4, orders_per_seller=1)
    seller, bystander = _two_na_sellers(sim)
    site = await make_site(sim)
    await _connect(site, sim, seller)
    await _connect(site, sim, bystander)
    sim.client.revoke(seller["selling_partner_id"])
    sim.client.consent_as(seller["selling_partner_id"])
    start = site.invite(seller=seller["selling_partner_id"])
    others = table(site.rt, "SELECT * FROM sellers WHERE selling_partner_id <> :s",
                   s=seller["selling_partner_id"])

    status, _, body = await site.get(start)

    assert status == 200 and "reconnected" in body
    new_token = next(s for s in sim.world()["sellers"]
                     if s["selling_partner_id"] == seller["selling_partner_id"])["refresh_token"]
    with site.rt.engine.begin() as conn:
        stored = get_seller(conn, find_seller(conn, seller["selling_partner_id"]).id,
                            site.rt.keyring)
    assert stored.refresh_token == new_token
    assert table(site.rt, "SELECT * FROM sellers WHERE selling_partner_id <> :s",
                 s=seller["selling_partner_id"]) == others
    status, _, body = await site.get(start, allow_redirects=False)  # replay
    assert status == 403
    assert table(site.rt, "SELECT used_by FROM onboarding_invitations WHERE seller_id IS NOT "
                          "NULL") == [(seller["selling_partner_id"],)]


@pytest.mark.parametrize("spid", [
    "\U0001f600", "A" * 5000, "<script>alert(1)</script>", "A1\x00B2", "a1lowercase", "A",
    "A1 B2", "A1B2%", "",
])
async def test_a_malformed_seller_id_is_refused_before_anything_else(start_sim, make_site,
                                                                     spid):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    callback = await consent_redirect(site)
    r = sync_redis.Redis.from_url(site.rt.services.redis_url)
    grants, states = lwa_grants(sim), list(r.scan_iter("spsync:oauth:state:*"))

    status, body = await _fetch(_with_seller(callback, spid))

    assert status == 400 and "Traceback" not in body
    assert len(spid) < 4 or spid not in body  # never echoed
    assert lwa_grants(sim) == grants and count_sellers(site.rt) == 0
    assert list(r.scan_iter("spsync:oauth:state:*")) == states  # the state was not spent


async def test_a_used_new_seller_invitation_cannot_be_replayed(start_sim, make_site):
    sim = start_sim(sellers=4, orders_per_seller=1)
    first, second = _two_na_sellers(sim)
    site = await make_site(sim)
    sim.client.consent_as(first["selling_partner_id"])
    start = site.invite()
    assert (await site.get(start))[0] == 200
    sim.client.consent_as(second["selling_partner_id"])

    status, _, body = await site.get(start)

    assert status == 403 and "used, revoked or has expired" in body
    assert count_sellers(site.rt) == 1


async def test_two_consents_from_one_invitation_store_one_seller(start_sim, make_site):
    sim = start_sim(sellers=4, orders_per_seller=1)
    first, second = _two_na_sellers(sim)
    site = await make_site(sim)
    start = site.invite()
    sim.client.consent_as(first["selling_partner_id"])
    one = await consent_redirect(site, start)
    sim.client.consent_as(second["selling_partner_id"])
    two = await consent_redirect(site, start)

    results = await asyncio.gather(_fetch(one), _fetch(two))

    assert sorted(status for status, _ in results) in ([200, 403], [200, 409])
    assert count_sellers(site.rt) == 1


async def test_an_expired_or_revoked_invitation_is_refused(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    expired, revoked = site.invite(), site.invite()
    with site.rt.engine.begin() as conn:
        conn.execute(text("UPDATE onboarding_invitations SET expires_at = now() WHERE id = 1"))
        conn.execute(text("UPDATE onboarding_invitations SET revoked_at = now() WHERE id = 2"))
    for path in (expired, revoked):
        status, _, _ = await site.get(path, allow_redirects=False)
        assert status == 403


async def test_a_consent_whose_invitation_was_revoked_meanwhile_stores_nothing(start_sim,
                                                                              make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    callback = await consent_redirect(site)
    with site.rt.engine.begin() as conn:
        conn.execute(text("UPDATE onboarding_invitations SET revoked_at = now()"))
    grants = lwa_grants(sim)

    status, _ = await _fetch(callback)

    assert status == 403 and lwa_grants(sim) == grants and count_sellers(site.rt) == 0


async def test_a_consent_amazon_throttles_answers_503_with_retry_after(start_sim, make_site):
    """An account whose quota for the onboarding calls is spent at Amazon (e.g. consented
    many times in a minute): a clear 503 with Retry-After, nothing stored, never a 500."""
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim, max_inline_wait_seconds=0.5)
    callback = await consent_redirect(site)
    sim.client.fault("getMarketplaceParticipations", "throttle", count=50, retry_after=60)

    async with aiohttp.ClientSession() as session, session.get(callback) as resp:
        status, headers, body = resp.status, resp.headers, await resp.text()

    assert status == 503 and "quota" in body and 1 <= int(headers["Retry-After"]) <= 120
    assert count_sellers(site.rt) == 0
