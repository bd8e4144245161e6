"""The web app on a real loopback port against the simulator, for the web tests."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from sqlalchemy import text

from worker.db import invitations
from worker.db.sellers import find_seller
from worker.db.state import claim_due
from worker.runtime import Runtime
from worker.web.app import Web, WebConfig, make_runner

Enqueued = list[int]


class Site:
    """The web app on a real loopback port, so the simulator's redirect can reach it."""

    def __init__(self, base: str, rt: Runtime, enqueued: Enqueued) -> None:
        self.base = base
        self.rt = rt
        self.enqueued = enqueued

    def invite(self, region: str | None = "NA", seller: str | None = None,
               hours: float = 1.0) -> str:
        """``/oauth/start`` with a fresh invitation, as ``sellers invite`` (or ``sellers reauth
        SELLER``) would print it."""
        with self.rt.engine.begin() as conn:
            seller_id = find_seller(conn, seller).id if seller else None
            token, _ = invitations.create(conn, now=datetime.now(UTC), ttl=minutes(hours * 60),
                                          region=region, seller_id=seller_id)
        return "/" + invitations.link("", token).lstrip("/")

    async def get(self, path: str, **kw: Any) -> tuple[int, str, str]:
        """GET following redirects; (status, final URL, body)."""
        async with aiohttp.ClientSession() as session, \
                session.get(self.base + path, **kw) as resp:
            return resp.status, str(resp.url), await resp.text()


MakeSite = Callable[..., Awaitable[Site]]


@pytest.fixture
async def make_site(runtime_for, unused_tcp_port_factory) -> Any:
    runners: list[web.AppRunner] = []

    async def make(sim: Any, **overrides: Any) -> Site:
        app_info = sim.world()["application"]
        # Tests walk through onboarding faster than any seller: no rate limit unless asked.
        overrides = {"web_oauth_per_minute": 1e6, "web_sns_per_minute": 1e6} | overrides
        rt = runtime_for(sim, lwa_app_id=app_info["application_id"], **overrides)
        port = unused_tcp_port_factory()
        base = f"http://127.0.0.1:{port}"
        enqueued: Enqueued = []

        def enqueue(seller_id: int) -> list[tuple[int, str]]:
            # What the dispatcher would claim for this seller (tests/e2e sends it for real).
            enqueued.append(seller_id)
            with rt.engine.begin() as conn:
                return claim_due(conn, datetime.now(UTC), limit=50,
                                 hold=minutes(5), seller_id=seller_id)

        config = WebConfig(public_url=base, application_id=rt.settings.lwa_app_id or "",
                           lwa=rt.lwa_app(), consent_base=sim.url)
        runner = make_runner(Web(rt, config, enqueue=enqueue))
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runners.append(runner)
        return Site(base, rt, enqueued)

    yield make
    for runner in runners:
        await runner.cleanup()


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def count_sellers(rt: Runtime) -> int:
    with rt.engine.begin() as conn:
        return int(conn.execute(text("SELECT count(*) FROM sellers")).scalar_one())


async def consent_redirect(site: Site, start: str | None = None) -> str:
    """Run start + consent, but stop before the callback: its URL."""
    async with aiohttp.ClientSession() as session:
        async with session.get(site.base + (start or site.invite()),
                               allow_redirects=False) as resp:
            consent = resp.headers["Location"]
        async with session.get(consent, allow_redirects=False) as resp:
            assert resp.status == 302, await resp.text()
            return resp.headers["Location"]


def lwa_grants(sim: Any) -> int:
    return int(sim.client.stats()["lwa"]["grants"])




async def slowloris(port: int, sockets: int, limit_s: float,
                    meanwhile: Callable[[], Awaitable[Any]] | None = None) -> tuple[float, Any]:
    """Open ``sockets`` connections that drip a request head a byte at a time; run
    ``meanwhile`` while they do. (Seconds until the last was closed by the server, capped at
    ``limit_s``; what ``meanwhile`` returned.)"""
    conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(sockets)]
    for _, writer in conns:
        writer.write(b"GET /oauth/start HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        await writer.drain()
    started = time.monotonic()

    async def drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> float:
        while not reader.at_eof() and time.monotonic() - started < limit_s:
            try:
                writer.write(b"a")
                await writer.drain()
            except ConnectionError:
                break
            await asyncio.sleep(0.2)
        writer.close()
        return time.monotonic() - started

    drips = asyncio.gather(*(drip(r, w) for r, w in conns))
    other = await meanwhile() if meanwhile else None
    return max(await drips), other
