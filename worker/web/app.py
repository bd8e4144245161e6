"""The aiohttp application: ``/oauth/start``, ``/oauth/callback``, ``/healthz``, ``/metrics``,
``/notifications/sns``.

``create_app`` is what tests mount; ``run`` is the blocking entry point behind
``celery -A worker web``. Every route is a thin shell over a plain function.
"""

from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

import aiohttp
import structlog
from aiohttp import web

from worker.db import invitations
from worker.ratelimit.bucket import TokenBucket
from worker.redis_clients import async_client
from worker.runtime import Runtime
from worker.spapi.auth import LwaApp
from worker.spapi.errors import AuthError, InvalidGrantError, QuotaWaitTooLong, SpApiError
from worker.spapi.identifiers import is_selling_partner_id
from worker.spapi.regions import region as region_info
from worker.web import limits, oauth_state, sns
from worker.web.health import run_checks
from worker.web.onboarding import Callback, Enqueue, OnboardingError, connect, dispatch_now
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
    limiter: TokenBucket | None = None  # requests per client address (worker/web/limits.py)


WEB = web.AppKey("web", Web)


# An SNS message is at most 256 KB; its JSON envelope adds the signature and URLs.
MAX_BODY_BYTES = 512 * 1024


def create_app(deps: Web) -> web.Application:
    s = deps.rt.settings
    doors = [limits.Door("oauth", "/oauth/", s.web_oauth_per_minute),
             limits.Door("sns", "/notifications/", s.web_sns_per_minute)]
    app = web.Application(client_max_size=MAX_BODY_BYTES, middlewares=[
        limits.middleware(doors, lambda request: request.app[WEB].limiter),
        _body_deadline(s.web_read_timeout_seconds)])
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
    redis_url = deps.rt.services.redis_url  # may refuse (no URL, no demo extra): before opening
    _broker_url(deps)  # refuses a Redis Cluster without a broker of its own, at the start too
    deps.session = aiohttp.ClientSession(timeout=timeout)
    deps.redis = async_client(redis_url)
    deps.limiter = TokenBucket(deps.redis, redis_patience=0.0)
    yield
    await deps.session.close()
    await deps.redis.aclose()


def _body_deadline(seconds: float) -> Any:
    """A request body must arrive within ``seconds`` (a slow one holds a connection for ever);
    the head is bounded by the server's keep-alive timeout (see :func:`run`)."""

    @web.middleware
    async def deadline(request: web.Request, handler: limits.Handler) -> web.StreamResponse:
        if request.can_read_body:
            try:
                async with asyncio.timeout(seconds):
                    await request.read()  # kept: the handler's read() returns it
            except TimeoutError:
                log.warning("web.slow_body", path=request.path)
                return web.Response(status=408, text="Request body too slow.\n")
        return await handler(request)

    return deadline


async def oauth_start(request: web.Request) -> web.Response:
    """Only with an operator's invitation (``sellers invite`` / ``sellers reauth``)."""
    deps = request.app[WEB]
    token = request.query.get("invitation", "")
    invitation = await asyncio.to_thread(_open_invitation, deps.rt, token) if token else None
    if invitation is None:
        log.warning("oauth.start_refused", invitation=bool(token))
        return page("Invitation needed", "Connecting a seller needs an onboarding link from "
                    "the operator of this spsync (celery -A worker sellers invite). This link "
                    "is missing its invitation, or it was used, revoked or has expired.", 403)
    code = (invitation.region or request.query.get("region", "")).upper()
    if code not in deps.rt.settings.regions:
        allowed = ", ".join(r.lower() for r in deps.rt.settings.regions)
        return page("Unknown region", f"Add &region= one of {allowed} to the link.", 400)
    state = await oauth_state.issue(deps.redis, oauth_state.PendingConsent(
        region=code, invitation_id=invitation.id))
    log.info("oauth.start", region=code, invitation=invitation.id,
             seller=invitation.selling_partner_id)
    raise web.HTTPFound(deps.config.consent_url(code, state))


def _open_invitation(rt: Runtime, token: str) -> invitations.Invitation | None:
    with rt.engine.begin() as conn:
        return invitations.find_open(conn, token, datetime.now(UTC))


async def oauth_callback(request: web.Request) -> web.Response:
    deps = request.app[WEB]
    q = request.query
    code, state, spid = (q.get("spapi_oauth_code", ""), q.get("state", ""),
                         q.get("selling_partner_id", ""))
    if not code or not state or not spid:
        log.warning("oauth.bad_callback", missing=[k for k, v in (
            ("spapi_oauth_code", code), ("state", state), ("selling_partner_id", spid)) if not v])
        return page("Incomplete authorization", "The link from Amazon lacks spapi_oauth_code, "
                    "state or selling_partner_id. Open your onboarding link again.", 400)
    if not is_selling_partner_id(spid):
        log.warning("oauth.bad_seller_id", length=len(spid))
        return page("Not a seller id", "The selling_partner_id in the link from Amazon is not "
                    "a selling partner id. Nothing was stored.", 400)
    pending = await oauth_state.redeem(deps.redis, state)
    if pending is None:
        log.warning("oauth.bad_state", seller=spid)
        return page("Authorization link expired", "This authorization link is unknown, already "
                    "used or older than 10 minutes. Nothing was stored; open your onboarding "
                    "link again.", 400)
    return await _connect(deps, Callback(code, deps.config.redirect_uri, spid, pending))


async def _connect(deps: Web, cb: Callback) -> web.Response:
    assert deps.session is not None
    spid = cb.selling_partner_id
    try:
        async with deps.rt.spapi() as client:
            done = await connect(deps.rt, client, deps.session, deps.redis, deps.config.lwa, cb,
                                 enqueue=deps.enqueue,
                                 verify_seller=deps.rt.settings.web_verify_seller)
    except OnboardingError as exc:
        log.warning("oauth.not_connected", seller=spid, reason=str(exc), status=exc.status)
        return page("Seller not connected", str(exc), exc.status)
    except InvalidGrantError as exc:
        log.warning("oauth.exchange_failed", seller=spid, code=exc.code, status=exc.status)
        return page("Amazon refused the authorization", "Login with Amazon did not accept the "
                    "authorization code (it is valid once, for 5 minutes). Nothing was stored; "
                    "open your onboarding link again.", 400)
    except AuthError as exc:
        log.error("oauth.exchange_failed", seller=spid, code=exc.code, status=exc.status,
                  operation=exc.operation)
        return page("Authorization failed", "Amazon rejected this application's credentials "
                    f"({exc.code or exc.status}). An operator must check SPSYNC_LWA_CLIENT_ID "
                    "and SPSYNC_LWA_CLIENT_SECRET. Nothing was stored.", 502)
    except QuotaWaitTooLong as exc:  # this account's calls at Amazon are spent for now
        log.warning("oauth.quota_exhausted", seller=spid, wait_s=round(exc.wait, 1))
        return page("Amazon is limiting calls", "Amazon's quota for this account is used up for "
                    "the moment. Nothing was stored; open your onboarding link again in "
                    f"{max(1, round(exc.wait))} seconds.", 503, retry_after=exc.wait)
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
    return deps.rt.broker_url


async def _checks(deps: Web) -> Any:
    return await run_checks(deps.rt.engine, deps.redis, _broker_url(deps),
                            deps.rt.services.redis_url)


def make_runner(deps: Web) -> web.AppRunner:
    """The app as it is served (``await runner.setup()``, then a site on it)."""
    server_log = logging.getLogger("aiohttp.server")
    if not any(isinstance(f, limits.ClientErrorLog) for f in server_log.filters):
        server_log.addFilter(limits.ClientErrorLog())
    # aiohttp closes a connection that has not sent a whole request head (or sits idle) when
    # the keep-alive timeout passes; its default of an hour let slow clients hold sockets.
    return web.AppRunner(create_app(deps), handle_signals=False, access_log=None,
                         keepalive_timeout=deps.rt.settings.web_read_timeout_seconds)


def run(deps: Web, host: str, port: int) -> None:
    """Blocking: serve until SIGINT/SIGTERM; one line on stdout once listening."""
    asyncio.run(_serve_until_signal(deps, host, port))


async def _serve_until_signal(deps: Web, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    runner = make_runner(deps)
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
