"""The web app against the simulator, real Postgres and real Redis: onboarding, state misuse,
LWA errors, /healthz and /metrics."""

from __future__ import annotations

import asyncio
import io
import json
import time
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
import redis as sync_redis
from pydantic import SecretStr
from sqlalchemy import text

from worker.config import Settings
from worker.db.sellers import disable_seller, find_seller, get_seller
from worker.logging import configure_logging
from worker.spapi.auth import cache_keys
from worker.spapi.clock import REDIS_KEY
from worker.sync.catalog import streams_for
from worker.sync.service import run_stream

from .webkit import consent_redirect, count_sellers, lwa_grants

pytestmark = pytest.mark.integration

async def test_onboarding_end_to_end_stores_the_seller_and_queues_its_first_sync(
        start_sim, make_site):
    sim = start_sim(sellers=2, orders_per_seller=3)
    world = sim.world()
    seller = world["sellers"][1]
    sim.client.consent_as(seller["selling_partner_id"])
    site = await make_site(sim)

    status, final, body = await site.get(site.invite(region=None) +
                                         f"&region={seller['region'].lower()}")

    assert status == 200, body
    assert urlsplit(final).path == "/oauth/callback"
    assert "connected" in body and seller["selling_partner_id"] in body
    assert seller["refresh_token"] not in body and "Atzr|" not in body
    with site.rt.engine.begin() as conn:
        record = find_seller(conn, seller["selling_partner_id"])
        stored = get_seller(conn, record.id, site.rt.keyring)
        streams = conn.execute(text("SELECT stream FROM sync_state WHERE seller_id = :s"),
                               {"s": record.id}).scalars().all()
    assert stored.refresh_token == seller["refresh_token"]  # the sim's token for that seller
    assert stored.enabled and stored.region == seller["region"]
    assert sorted(stored.marketplace_ids) == sorted(seller["marketplace_ids"])
    assert site.enqueued == [record.id]
    # orders, inventory and listings per marketplace, finances, payouts, settlements
    assert "orders" in streams and sorted(streams) == sorted(streams_for(stored.marketplace_ids))


async def test_a_seller_of_another_region_is_not_stored(start_sim, make_site):
    sim = start_sim(sellers=2, orders_per_seller=1)
    seller = next(s for s in sim.world()["sellers"] if s["region"] != "FE")
    sim.client.consent_as(seller["selling_partner_id"])
    site = await make_site(sim)
    status, _, body = await site.get(site.invite("FE"))
    assert status == 400 and "no marketplace of region FE" in body
    assert count_sellers(site.rt) == 0


async def test_start_redirects_to_the_consent_page_with_a_fresh_state(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    states = []
    for _ in range(2):
        async with aiohttp.ClientSession() as session, session.get(
                site.base + site.invite(), allow_redirects=False) as resp:
            assert resp.status == 302
            where = urlsplit(resp.headers["Location"])
        query = {k: v[0] for k, v in parse_qs(where.query).items()}
        assert where.path == "/apps/authorize/consent"
        assert query["application_id"] == sim.world()["application"]["application_id"]
        assert query["redirect_uri"] == site.base + "/oauth/callback"
        states.append(query["state"])
    assert states[0] != states[1] and len(states[0]) >= 32


@pytest.mark.parametrize("query", ["", "?region=xx", "?region=eu"])
async def test_start_rejects_a_region_this_deployment_does_not_serve(start_sim, make_site,
                                                                     query):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim, regions=("NA", "FE"))
    status, _, body = await site.get(site.invite(None) + query.replace("?", "&"),
                                     allow_redirects=False)
    assert status == 400 and "region" in body


async def test_a_callback_with_an_unknown_state_stores_nothing(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    callback = await consent_redirect(site)
    parts = urlsplit(callback)
    forged = callback.replace("state=", "state=forged", 1)
    grants = lwa_grants(sim)
    async with aiohttp.ClientSession() as session, session.get(forged) as resp:
        assert resp.status == 400
        assert "expired" in await resp.text()
    assert count_sellers(site.rt) == 0 and lwa_grants(sim) == grants  # code never exchanged
    assert parts.path == "/oauth/callback"


async def test_a_reused_state_is_refused_the_second_time(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    callback = await consent_redirect(site)
    async with aiohttp.ClientSession() as session:
        async with session.get(callback) as first:
            assert first.status == 200
        grants = lwa_grants(sim)
        async with session.get(callback) as replay:
            assert replay.status == 400
    assert lwa_grants(sim) == grants and site.enqueued and len(site.enqueued) == 1


async def test_an_expired_state_is_refused(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    callback = await consent_redirect(site)
    r = sync_redis.Redis.from_url(site.rt.services.redis_url)
    keys = list(r.scan_iter("spsync:oauth:state:*"))
    assert len(keys) == 1 and 590 <= r.ttl(keys[0]) <= 600  # valid for 10 minutes
    r.pexpire(keys[0], 1)  # ... and now those 10 minutes are over
    await asyncio.sleep(0.05)
    async with aiohttp.ClientSession() as session, session.get(callback) as resp:
        assert resp.status == 400
    assert count_sellers(site.rt) == 0


@pytest.mark.parametrize("drop", ["spapi_oauth_code", "state", "selling_partner_id"])
async def test_a_callback_missing_a_parameter_is_refused(start_sim, make_site, drop):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    callback = urlsplit(await consent_redirect(site))
    query = {k: v[0] for k, v in parse_qs(callback.query).items() if k != drop}
    status, _, body = await site.get("/oauth/callback", params=query)
    assert status == 400 and drop in body
    assert count_sellers(site.rt) == 0


async def test_a_refused_code_gives_a_clear_page_and_a_log_line_without_secrets(
        start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    logs = io.StringIO()
    configure_logging(Settings(log_format="json"), stream=logs)
    callback = urlsplit(await consent_redirect(site))
    query = {k: v[0] for k, v in parse_qs(callback.query).items()}
    real_code = query["spapi_oauth_code"]
    query["spapi_oauth_code"] = "ANnot-a-real-code"
    status, _, body = await site.get("/oauth/callback", params=query)
    assert status == 400 and "refused" in body.lower() and "Traceback" not in body
    assert count_sellers(site.rt) == 0
    events = [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]
    failed = [e for e in events if e["event"] == "oauth.exchange_failed"]
    assert failed and failed[0]["code"] == "invalid_grant"
    assert "ANnot-a-real-code" not in logs.getvalue() and real_code not in logs.getvalue()


async def test_wrong_application_credentials_are_an_operator_error_page(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim, lwa_client_secret=SecretStr("amzn1.oa2-cs.v1.wrong"))
    status, _, body = await site.get(site.invite())
    assert status == 502 and "SPSYNC_LWA_CLIENT_SECRET" in body and "wrong" not in body
    assert count_sellers(site.rt) == 0


async def test_reconnecting_a_revoked_seller_re_enables_it_with_the_new_token(
        start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    spid = sim.world()["sellers"][0]["selling_partner_id"]
    site = await make_site(sim)
    assert (await site.get(site.invite()))[0] == 200
    sim.client.revoke(spid)  # the seller removed the app; a sync then disabled it
    with site.rt.engine.begin() as conn:
        disable_seller(conn, find_seller(conn, spid).id, "invalid_grant: revoked")
        conn.execute(text("UPDATE sellers SET orders_api_version = 'v0'"))  # operator's choice
    r = sync_redis.Redis.from_url(site.rt.services.redis_url)
    r.set(cache_keys(spid)[1], "invalid_grant")  # the published refresh failure

    status, _, body = await site.get(site.invite(seller=spid))

    assert status == 200 and "reconnected" in body
    new_token = sim.world()["sellers"][0]["refresh_token"]
    with site.rt.engine.begin() as conn:
        record = get_seller(conn, find_seller(conn, spid).id, site.rt.keyring)
    assert record.enabled and record.disabled_reason is None
    assert record.refresh_token == new_token
    assert record.orders_api_version == "v0"  # re-authorizing keeps it
    assert r.get(cache_keys(spid)[1]) is None


async def test_healthz_reports_each_check_and_fails_on_clock_skew(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    status, _, body = await site.get("/healthz")
    report = json.loads(body)
    assert status == 200 and report["status"] == "ok"
    assert set(report["checks"]) == {"database", "redis", "broker", "clock"}

    r = sync_redis.Redis.from_url(site.rt.services.redis_url)
    r.hset(REDIS_KEY, "worker-7:123", json.dumps({"skew": 420.0, "at": time.time(),
                                                  "source": "searchOrders"}))
    status, _, body = await site.get("/healthz")
    report = json.loads(body)
    assert status == 503 and report["status"] == "unhealthy"
    assert not report["checks"]["clock"]["ok"] and "worker-7:123" in report["checks"]["clock"][
        "detail"]
    assert report["checks"]["database"]["ok"]


async def test_healthz_fails_when_the_database_is_unreachable(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim, database_url="postgresql://postgres@127.0.0.1:1/nowhere")
    status, _, body = await site.get("/healthz")
    report = json.loads(body)
    assert status == 503 and not report["checks"]["database"]["ok"]
    assert report["checks"]["redis"]["ok"]


DECLARED = (  # exposed from start-up; a sample appears once something happened
    "spsync_spapi_throttled_total", "spsync_spapi_retries_total", "spsync_task_failures_total",
    "spsync_token_refresh_failures_total",
)
METRICS = (  # with samples after one sync
    "spsync_spapi_calls_total", "spsync_quota_wait_seconds", "spsync_bucket_fill_ratio",
    "spsync_rows_upserted_total", "spsync_sync_runs_total", "spsync_sync_lag_seconds",
    "spsync_sync_interval_seconds", "spsync_sync_last_success_timestamp_seconds",
    "spsync_stream_disabled",
    "spsync_queue_depth", "spsync_sellers", "spsync_health_check", "spsync_clock_skew_seconds",
    "spsync_inbox_open", "spsync_outbox_open",
)


async def test_metrics_expose_the_listed_series_after_a_sync(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=5)
    site = await make_site(sim)
    assert (await site.get(site.invite()))[0] == 200
    spid = sim.world()["sellers"][0]["selling_partner_id"]
    with site.rt.engine.begin() as conn:
        seller_id = find_seller(conn, spid).id
    outcome = await run_stream(site.rt, seller_id, "orders")
    assert outcome.status == "succeeded"

    status, _, body = await site.get("/metrics")

    assert status == 200
    names = {line.split("{")[0].split(" ")[0] for line in body.splitlines()
             if line and not line.startswith("#")}
    for metric in METRICS:
        assert any(n == metric or n.startswith(metric + "_") for n in names), metric
    described = {line.split()[2] for line in body.splitlines() if line.startswith("# HELP")}
    for metric in (*DECLARED, *METRICS):
        assert metric in described or metric.removesuffix("_total") in described, metric
    lag = [line for line in body.splitlines()
           if line.startswith(f'spsync_sync_lag_seconds{{seller="{spid}",stream="orders"}}')]
    assert lag and 0 <= float(lag[0].split()[-1]) < 3600
    assert 'spsync_sync_runs_total{status="succeeded",stream_kind="orders"}' in body
    assert 'spsync_sellers{state="enabled"} 1.0' in body
    assert 'spsync_outbox_open{status="unknown"} 0.0' in body  # each open status, even at 0
