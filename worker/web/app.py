"""The aiohttp application: ``/oauth/start``, ``/oauth/callback``, ``/healthz``, ``/metrics``,
``/notifications/sns``.

``create_app`` is what tests mount; ``run`` is the blocking entry point behind
``celery -A worker web``. Every route is a thin shell over a plain function.
"""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import redis.asyncio as aredis
import structlog
from aiohttp import web

from worker.runtime import Runtime
from worker.spapi.auth import LwaApp
from worker.spapi.errors import AuthError, InvalidGrantError, SpApiError
from worker.spapi.regions import region as region_info
from worker.web import oauth_state, sns
from worker.web.health import run_checks
from worker.web.onboarding import Enqueue, OnboardingError, connect, dispatch_now
from worker.web.pages import page
from worker.web.scrape import render

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class WebConfig:
    public_url: str  # where sellers reach this app; the redirect URI is <public_url>/oauth/callback
    application_id: str  # the SP-API application (amzn1.sp.solution...)
    lwa: LwaApp = field(repr=False)
    consent_base: str | None = None  # instead of each region's Seller Central (the simulator)
    beta: bool = False  # version=beta: authorize a draft application

    @property
    def redirect_uri(self) -> str:
        return self.public_url.rstrip("/") + "/oauth/callback"

    def consent_url(self, region: str, state: str) -> str:
        base = self.consent_base or region_info(region).seller_central
        query = {"application_id": self.application_id, "state": state,
                 "redirect_uri": self.redirect_uri}
        if self.beta:
            query["version"] = "beta"
        return f"{base.rstrip('/')}/apps/authorize/consent?{urlencode(query)}"


@dataclass
class Web:
    rt: Runtime
    config: WebConfig
    enqueue: Enqueue = dispatch_now
    redis: Any = None  # redis.asyncio.Redis, opened with the app
    session: aiohttp.ClientSession | None = None


WEB = web.AppKey("web", Web)


def create_app(deps: Web) -> web.Application:
    app = web.Application()
    app[WEB] = deps
    app.router.add_get("/oauth/start", oauth_start)
    app.router.add_get("/oauth/callback", oauth_callback)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics)
    app.router.add_post("/notifications/sns", sns.handle)
    app.cleanup_ctx.append(_clients)
    return app


async def _clients(app: web.Application) -> AsyncIterator[None]:
    deps = app[WEB]
    timeout = aiohttp.ClientTimeout(total=deps.rt.settings.http_timeout_seconds)
    deps.session = aiohttp.ClientSession(timeout=timeout)
    deps.redis = aredis.Redis.from_url(deps.rt.services.redis_url)
    yield
    await deps.session.close()
    await deps.redis.aclose()


async def oauth_start(request: web.Request) -> web.Response:
    deps = request.app[WEB]
    code = request.query.get("region", "").upper()
    if code not in deps.rt.settings.regions:
        allowed = ", ".join(r.lower() for r in deps.rt.settings.regions)
        return page("Unknown region", f"Pass ?region= one of {allowed}.", 400)
    state = await oauth_state.issue(deps.redis, oauth_state.PendingConsent(region=code))
    log.info("oauth.start", region=code)
    raise web.HTTPFound(deps.config.consent_url(code, state))


async def oauth_callback(request: web.Request) -> web.Response:
    deps = request.app[WEB]
    q = request.query
    code, state, spid = (q.get("spapi_oauth_code", ""), q.get("state", ""),
                         q.get("selling_partner_id", ""))
    if not code or not state or not spid:
        log.warning("oauth.bad_callback", missing=[k for k, v in (
            ("spapi_oauth_code", code), ("state", state), ("selling_partner_id", spid)) if not v])
        return page("Incomplete authorization", "The link from Amazon lacks spapi_oauth_code, "
                    "state or selling_partner_id. Start again from /oauth/start.", 400)
    pending = await oauth_state.redeem(deps.redis, state)
    if pending is None:
        log.warning("oauth.bad_state", seller=spid)
        return page("Authorization link expired", "This authorization link is unknown, already "
                    "used or older than 10 minutes. Nothing was stored; start again from "
                    "/oauth/start.", 400)
    assert deps.session is not None
    try:
        async with deps.rt.spapi() as client:
            done = await connect(deps.rt, client, deps.session, deps.redis, deps.config.lwa,
                                 code=code, redirect_uri=deps.config.redirect_uri,
                                 selling_partner_id=spid, region=pending.region,
                                 enqueue=deps.enqueue)
    except OnboardingError as exc:
        log.warning("oauth.not_connected", seller=spid, reason=str(exc))
        return page("Seller not connected", str(exc), 400)
    except InvalidGrantError as exc:
        log.warning("oauth.exchange_failed", seller=spid, code=exc.code, status=exc.status)
        return page("Amazon refused the authorization", "Login with Amazon did not accept the "
                    "authorization code (it is valid once, for 5 minutes). Nothing was stored; "
                    "start again from /oauth/start.", 400)
    except AuthError as exc:
        log.error("oauth.exchange_failed", seller=spid, code=exc.code, status=exc.status,
                  operation=exc.operation)
        return page("Authorization failed", "Amazon rejected this application's credentials "
                    f"({exc.code or exc.status}). An operator must check SPSYNC_LWA_CLIENT_ID "
                    "and SPSYNC_LWA_CLIENT_SECRET. Nothing was stored.", 502)
    except SpApiError as exc:
        log.error("oauth.amazon_unavailable", seller=spid, operation=exc.operation,
                  status=exc.status, error=type(exc).__name__)
        return page("Amazon is not answering", "Amazon could not be reached to finish the "
                    "connection. Nothing was stored; please try again in a few minutes.", 503)
    verb = "reconnected" if done.reconnected else "connected"
    return page("Seller connected", f"Seller {done.selling_partner_id} is {verb} "
                f"({done.region}: {', '.join(done.marketplace_ids)}). Its first sync is "
                f"queued ({len(done.queued)} streams).")


async def healthz(request: web.Request) -> web.Response:
    deps = request.app[WEB]
    checks = await _checks(deps)
    ok = all(c.ok for c in checks.values())
    body = {"status": "ok" if ok else "unhealthy",
            "checks": {name: {"ok": c.ok, "detail": c.detail} for name, c in checks.items()}}
    return web.json_response(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    deps = request.app[WEB]
    checks = await _checks(deps)
    text = await asyncio.to_thread(render, deps.rt.engine, deps.rt.settings, _broker_url(deps),
                                   checks)
    return web.Response(body=text, headers={"Content-Type": "text/plain; version=0.0.4"})


def _broker_url(deps: Web) -> str:
    return deps.rt.settings.broker_url or deps.rt.services.redis_url


async def _checks(deps: Web) -> Any:
    return await run_checks(deps.rt.engine, deps.redis, _broker_url(deps),
                            deps.rt.services.redis_url)


def run(deps: Web, host: str, port: int) -> None:
    """Blocking: serve until SIGINT/SIGTERM; one line on stdout once listening."""
    asyncio.run(_serve_until_signal(deps, host, port))


async def _serve_until_signal(deps: Web, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = web.AppRunner(create_app(deps), handle_signals=False, access_log=None)
    await runner.setup()
    try:
        await web.TCPSite(runner, host, port).start()
        print(json.dumps({"event": "web.listening", "url": f"http://{host}:{port}",
                          "redirect_uri": deps.config.redirect_uri}),
              file=sys.stdout, flush=True)
        with suppress(asyncio.CancelledError):
            await stop.wait()
    finally:
        await runner.cleanup()
