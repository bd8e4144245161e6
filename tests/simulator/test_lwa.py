"""Login with Amazon: grants, OAuth error shapes, revocation, codes, SP-API 403s."""

from __future__ import annotations

from typing import Any

from .simkit import EPOCH, MakeSim, Sim

SEARCH = "/orders/2026-01-01/orders"


async def _app(sim: Sim) -> dict[str, str]:
    app: dict[str, str] = (await sim.sellers())["application"]
    return app


async def test_refresh_grant(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1, token_ttl_seconds=1234)
    app, seller = await _app(sim), await sim.seller()
    status, body = await sim.token_response(
        grant_type="refresh_token", refresh_token=seller["refresh_token"], **app
    )
    assert status == 200
    assert body["access_token"].startswith("Atza|")
    assert (body["token_type"], body["expires_in"]) == ("bearer", 1234)
    assert body["refresh_token"] == seller["refresh_token"]
    assert app["client_id"].startswith("amzn1.application-oa2-client.")
    assert seller["refresh_token"].startswith("Atzr|")


async def test_error_shapes(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    app, seller = await _app(sim), await sim.seller()
    refresh = seller["refresh_token"]
    cases: list[tuple[dict[str, str], int, str]] = [
        (
            {
                "grant_type": "refresh_token",
                "refresh_token": refresh,
                "client_id": app["client_id"],
                "client_secret": "nope",
            },
            401,
            "invalid_client",
        ),
        (
            {"grant_type": "refresh_token", "refresh_token": "Atzr|forged", **app},
            400,
            "invalid_grant",
        ),
        ({"grant_type": "refresh_token", **app}, 400, "invalid_request"),
        ({"refresh_token": refresh, **app}, 400, "invalid_request"),
        ({"grant_type": "password", **app}, 400, "unsupported_grant_type"),
    ]
    for form, want_status, want_error in cases:
        status, body = await sim.token_response(**form)
        assert (status, body["error"]) == (want_status, want_error), form
        assert body["error_description"]
    status, body = await sim.token_response(**cases[0][0])
    assert body == {"error": "invalid_client", "error_description": "Client authentication failed"}
    _, body = await sim.token_response(**cases[1][0])
    assert body["error_description"] == "The request has an invalid grant parameter : refresh_token"


async def test_revoke_then_reauthorize(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    app, seller = await _app(sim), await sim.seller()
    spid = seller["selling_partner_id"]
    status, _ = await sim.post(f"/_sim/sellers/{spid}/revoke", {})
    assert status == 200
    status, body = await sim.token_response(
        grant_type="refresh_token", refresh_token=seller["refresh_token"], **app
    )
    assert (status, body["error"]) == (400, "invalid_grant")

    _, minted = await sim.post("/_sim/auth-codes", {"selling_partner_id": spid})
    form = {
        "grant_type": "authorization_code",
        "code": minted["code"],
        "redirect_uri": "https://example.invalid/cb",
        **app,
    }
    status, body = await sim.token_response(**form)
    assert status == 200
    assert body["refresh_token"] != seller["refresh_token"]  # re-authorization issues a new one
    assert (await sim.seller())["refresh_token"] == body["refresh_token"]
    status, again = await sim.token_response(**form)
    assert (status, again["error"]) == (400, "invalid_grant")  # codes are single use


async def test_access_token_checks(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1, token_ttl_seconds=60)
    token = await sim.access_token()
    status, body, headers = await sim.get(SEARCH, "Atza|bogus", {"lastUpdatedAfter": EPOCH})
    assert status == 403
    assert body == {
        "errors": [
            {
                "code": "Unauthorized",
                "message": "Access to requested resource is denied.",
                "details": "The access token you provided is revoked, malformed or invalid.",
            }
        ]
    }
    assert "x-amzn-RequestId" in headers
    resp = await sim.client.get(SEARCH, params={"lastUpdatedAfter": EPOCH})
    assert resp.status == 403
    sim.clock.advance(61)
    status, body, _ = await sim.get(SEARCH, token, {"lastUpdatedAfter": EPOCH})
    assert status == 403
    assert body["errors"][0]["details"] == "The access token you provided has expired."


async def test_lwa_stats(make_sim: MakeSim) -> None:
    sim = await make_sim(orders_per_seller=1)
    await sim.access_token(0)
    await sim.access_token(1)
    await sim.token_response(grant_type="refresh_token")
    stats: dict[str, Any] = await (await sim.client.get("/_sim/stats")).json()
    assert stats["lwa"] == {"grants": 2, "refresh_grants": 2, "errors": 1}
