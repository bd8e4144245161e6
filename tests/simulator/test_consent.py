"""OAuth onboarding end to end: the consent page, the code exchange, the Sellers API."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from aiohttp import ClientResponse

from simulator.config import SimConfig
from simulator.spec import all_operations
from simulator.state import build_simulator

from .simkit import MakeSim, Sim, schema_errors

CONSENT = "/apps/authorize/consent"
PARTICIPATIONS = "/sellers/v1/marketplaceParticipations"
CALLBACK = "http://127.0.0.1:8123/oauth/callback"
STATE = "st/+ate=1&x ü"  # needs escaping both ways: it must come back unchanged


async def _application(sim: Sim) -> dict[str, str]:
    app: dict[str, str] = (await sim.sellers())["application"]
    return app


async def _consent(sim: Sim, **params: str) -> ClientResponse:
    return await sim.client.get(CONSENT, params=params, allow_redirects=False)


async def _approve(sim: Sim, redirect_uri: str = CALLBACK, **extra: str) -> dict[str, str]:
    """Visit the consent page for the simulator's app; the redirect's query, one value each."""
    app = await _application(sim)
    resp = await _consent(sim, application_id=app["application_id"], state=STATE,
                          redirect_uri=redirect_uri, **extra)
    assert resp.status == 302, await resp.text()
    location = urlsplit(resp.headers["Location"])
    target = urlsplit(redirect_uri)
    assert (location.scheme, location.netloc, location.path) == (
        target.scheme, target.netloc, target.path)
    return {k: v[0] for k, v in parse_qs(location.query).items()}


async def _exchange(sim: Sim, code: str) -> tuple[int, dict[str, Any]]:
    app = await _application(sim)
    return await sim.token_response(
        grant_type="authorization_code", code=code, redirect_uri=CALLBACK,
        client_id=app["client_id"], client_secret=app["client_secret"],
    )


async def test_application_id_is_seeded_and_listed(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    app = await _application(sim)
    assert re.fullmatch(
        r"amzn1\.sp\.solution\.[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}",
        app["application_id"],
    )
    same = build_simulator(SimConfig(orders_per_seller=1)).lwa.app
    other = build_simulator(SimConfig(orders_per_seller=1, seed=2)).lwa.app
    assert same.application_id == app["application_id"]
    assert same.client_id == app["client_id"]
    assert other.application_id != app["application_id"]


@pytest.mark.parametrize("uri", [
    "http://127.0.0.1/cb",
    "http://127.0.0.1:8123/oauth/callback?tenant=7",
    "http://localhost",
    "http://localhost:5000/cb",
])
def test_loopback_redirects_are_registered(uri: str) -> None:
    assert build_simulator(SimConfig(orders_per_seller=1)).lwa.app.accepts_redirect(uri)


@pytest.mark.parametrize("uri", [
    "https://127.0.0.1/cb",  # https: the sim registers plain-http loopback only
    "https://app.example.com/cb",
    "http://app.example.com/cb",
    "http://localhost.example.com/cb",
    "http://127.0.0.1.example.com/cb",
    "http://127.0.0.1@example.com/cb",
    "http://127.0.0.1:99999/cb",
    "http://127.0.0.1/cb#frag",
    "/oauth/callback",
    "localhost:5000/cb",
])
def test_other_redirects_are_not(uri: str) -> None:
    assert not build_simulator(SimConfig(orders_per_seller=1)).lwa.app.accepts_redirect(uri)


async def test_consent_redirects_with_a_code_that_exchanges_once(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    first = await sim.seller()
    query = await _approve(sim, CALLBACK + "?tenant=7", version="beta")
    assert query.keys() == {"tenant", "state", "selling_partner_id", "spapi_oauth_code"}
    assert query["tenant"] == "7"
    assert query["state"] == STATE
    assert query["selling_partner_id"] == first["selling_partner_id"]

    status, body = await _exchange(sim, query["spapi_oauth_code"])
    assert status == 200, body
    assert body["refresh_token"] == first["refresh_token"]
    assert body["access_token"].startswith("Atza|")
    status, _, _ = await sim.get(PARTICIPATIONS, body["access_token"])
    assert status == 200

    status, body = await _exchange(sim, query["spapi_oauth_code"])
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_each_consent_mints_a_fresh_code(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    one, two = await _approve(sim), await _approve(sim, "http://localhost:5000/cb")
    assert one["spapi_oauth_code"] != two["spapi_oauth_code"]
    for query in (two, one):
        status, _ = await _exchange(sim, query["spapi_oauth_code"])
        assert status == 200


async def test_code_expires_after_five_minutes(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    query = await _approve(sim)
    sim.clock.advance(301)
    status, body = await _exchange(sim, query["spapi_oauth_code"])
    assert (status, body["error"]) == (400, "invalid_grant")


async def test_sim_consent_picks_the_approving_seller(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=3, orders_per_seller=1)
    first, third = await sim.seller(0), await sim.seller(2)
    resp = await sim.client.get("/_sim/consent")
    assert (await resp.json()) == {"selling_partner_id": first["selling_partner_id"]}

    status, body = await sim.post("/_sim/consent",
                                  {"selling_partner_id": third["selling_partner_id"]})
    assert (status, body) == (200, {"selling_partner_id": third["selling_partner_id"]})
    for _ in range(2):  # sticks for the following consents
        query = await _approve(sim)
        assert query["selling_partner_id"] == third["selling_partner_id"]
        status, token = await _exchange(sim, query["spapi_oauth_code"])
        assert status == 200 and token["refresh_token"] == third["refresh_token"]

    for bad in ({"selling_partner_id": "ANOSUCHSELLER00"}, {}):
        status, body = await sim.post("/_sim/consent", bad)
        assert status == 400 and "unknown seller_id" in body["error"]
    query = await _approve(sim)
    assert query["selling_partner_id"] == third["selling_partner_id"]


async def test_revoked_approver_gets_a_new_refresh_token(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    seller = await sim.seller()
    await sim.post(f"/_sim/sellers/{seller['selling_partner_id']}/revoke", {})
    status, body = await _exchange(sim, (await _approve(sim))["spapi_oauth_code"])
    assert status == 200
    assert body["refresh_token"] != seller["refresh_token"]
    assert body["refresh_token"] == (await sim.seller())["refresh_token"]


@pytest.mark.parametrize(("drop", "override", "says"), [
    ("application_id", {}, "missing the application_id"),
    ("", {"application_id": ""}, "missing the application_id"),
    ("", {"application_id": "amzn1.sp.solution.nope"}, "Unknown application_id"),
    ("state", {}, "missing the state"),
    ("", {"state": ""}, "missing the state"),
    ("redirect_uri", {}, "missing the redirect_uri"),
    ("", {"redirect_uri": "https://app.example.com/cb"}, "is not registered"),
    ("", {"redirect_uri": "http://localhost.example.com/cb"}, "is not registered"),
    ("", {"redirect_uri": "https://127.0.0.1/cb"}, "is not registered"),
])
async def test_errors_render_400_html_and_never_redirect(
    make_sim: MakeSim, drop: str, override: dict[str, str], says: str
) -> None:
    sim = await make_sim(orders_per_seller=1)
    app = await _application(sim)
    params = {"application_id": app["application_id"], "state": STATE,
              "redirect_uri": CALLBACK, "version": "beta", **override}
    params.pop(drop, None)
    resp = await _consent(sim, **params)
    text = await resp.text()
    assert resp.status == 400
    assert resp.content_type == "text/html"
    assert "Location" not in resp.headers
    assert text.startswith("<!DOCTYPE html>") and says in text
    assert "spapi_oauth_code" not in text
    stats = (await (await sim.client.get("/_sim/stats")).json())["consent"]
    assert stats == {"approved": 0, "errors": 1}


async def test_error_page_escapes_what_it_echoes(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    resp = await _consent(sim, application_id="<script>x</script>", state=STATE,
                          redirect_uri=CALLBACK)
    assert resp.status == 400
    text = await resp.text()
    assert "<script>" not in text and "&lt;script&gt;" in text


async def test_head_does_not_mint_codes(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    app = await _application(sim)
    resp = await sim.client.head(CONSENT, params={"application_id": app["application_id"],
                                                  "state": STATE, "redirect_uri": CALLBACK},
                                 allow_redirects=False)
    assert resp.status == 405


async def test_stats_count_consents(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    await _approve(sim)
    await _approve(sim)
    await _consent(sim, state=STATE, redirect_uri=CALLBACK)
    stats = (await (await sim.client.get("/_sim/stats")).json())["consent"]
    assert stats == {"approved": 2, "errors": 1}


def test_participations_usage_plan_comes_from_the_model() -> None:
    op = all_operations()["getMarketplaceParticipations"]
    assert (op.method, op.path, op.rate, op.burst, op.status, op.response) == (
        "GET", PARTICIPATIONS, Decimal("0.016"), 15, 200, "GetMarketplaceParticipationsResponse")


async def test_participations_list_the_sellers_marketplaces(make_sim: MakeSim) -> None:
    sim = await make_sim(sellers=4, orders_per_seller=1)  # seller 3 sells in US and CA
    for index in range(4):
        seller = await sim.seller(index)
        status, body, headers = await sim.get(PARTICIPATIONS, await sim.access_token(index))
        assert status == 200
        assert schema_errors("sellersV1", "GetMarketplaceParticipationsResponse", body) == []
        assert headers["x-amzn-RateLimit-Limit"] == "0.016"
        entries = body["payload"]
        assert [e["marketplace"]["id"] for e in entries] == seller["marketplace_ids"]
        for entry in entries:
            assert set(entry["marketplace"]) == {"id", "countryCode", "name",
                                                 "defaultCurrencyCode", "defaultLanguageCode",
                                                 "domainName"}
            assert entry["participation"] == {"isParticipating": True,
                                              "hasSuspendedListings": False}
            assert entry["storeName"] == entries[0]["storeName"]
    status, body, _ = await sim.get(PARTICIPATIONS, await sim.access_token(3))
    assert [e["marketplace"] for e in body["payload"]] == [
        {"id": "ATVPDKIKX0DER", "countryCode": "US", "name": "Amazon.com",
         "defaultCurrencyCode": "USD", "defaultLanguageCode": "en_US",
         "domainName": "www.amazon.com"},
        {"id": "A2EUQ1WTGCTBG2", "countryCode": "CA", "name": "Amazon.ca",
         "defaultCurrencyCode": "CAD", "defaultLanguageCode": "en_CA",
         "domainName": "www.amazon.ca"},
    ]


async def test_participations_need_a_valid_access_token(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1, token_ttl_seconds=60)
    resp = await sim.client.get(PARTICIPATIONS)
    assert resp.status == 403
    assert (await resp.json())["errors"][0]["code"] == "Unauthorized"
    status, body, _ = await sim.get(PARTICIPATIONS, "Atza|forged")
    assert status == 403 and body["errors"][0]["code"] == "Unauthorized"
    token = await sim.access_token()
    sim.clock.advance(61)
    status, body, _ = await sim.get(PARTICIPATIONS, token)
    assert status == 403 and "expired" in body["errors"][0]["details"]


async def test_participations_quota_and_faults(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    token = await sim.access_token()
    statuses = [(await sim.get(PARTICIPATIONS, token))[0] for _ in range(16)]
    assert statuses == [200] * 15 + [429]

    other = await sim.access_token(1)
    await sim.post("/_sim/faults", {"operation": "getMarketplaceParticipations",
                                    "fault": "malformed"})
    status, body, _ = await sim.get(PARTICIPATIONS, other)
    assert status == 200
    assert schema_errors("sellersV1", "GetMarketplaceParticipationsResponse", body)
    await sim.post("/_sim/faults", {"operation": "getMarketplaceParticipations",
                                    "fault": "http_503"})
    status, _, _ = await sim.get(PARTICIPATIONS, other)
    assert status == 503


async def test_onboarding_end_to_end(make_sim: MakeSim) -> None:
    """What spsync does: consent → exchange → marketplaces of the seller who approved."""
    sim = await make_sim(sellers=2, orders_per_seller=1)
    second = await sim.seller(1)
    await sim.post("/_sim/consent", {"selling_partner_id": second["selling_partner_id"]})
    query = await _approve(sim)
    status, tokens = await _exchange(sim, query["spapi_oauth_code"])
    assert status == 200
    status, body, _ = await sim.get(PARTICIPATIONS, tokens["access_token"])
    assert status == 200
    assert [e["marketplace"]["id"] for e in body["payload"]] == second["marketplace_ids"]


def test_consent_desk_codes_are_lwa_codes() -> None:
    sim = build_simulator(SimConfig(orders_per_seller=1))
    location = sim.consent.approve({"application_id": sim.lwa.app.application_id,
                                    "state": "s", "redirect_uri": "http://localhost/cb"})
    code = parse_qs(urlsplit(location).query)["spapi_oauth_code"][0]
    app = sim.lwa.app
    form = {"grant_type": "authorization_code", "code": code,
            "client_id": app.client_id, "client_secret": app.client_secret}
    assert sim.lwa.grant(form).status == 200
    assert sim.lwa.grant(form).status == 400
