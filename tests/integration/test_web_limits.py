"""The web app's open doors under abuse: request rates per address, slow clients (slowloris),
slow and oversized bodies. Real sockets against the app as ``celery -A worker web`` serves it."""

from __future__ import annotations

import asyncio
import logging
import time

import aiohttp
import pytest
import redis.asyncio as aredis

from worker.ratelimit.bucket import TokenBucket
from worker.web import limits

from .webkit import slowloris

pytestmark = pytest.mark.integration


async def _status(url: str, method: str = "GET", **kw: object) -> tuple[int, dict[str, str]]:
    async with aiohttp.ClientSession() as session, session.request(
            method, url, allow_redirects=False, **kw) as resp:  # type: ignore[arg-type]
        return resp.status, dict(resp.headers)


async def test_oauth_and_sns_doors_answer_429_past_their_rate(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim, web_oauth_per_minute=6.0, web_sns_per_minute=6.0)
    door = limits.Door("oauth", "/oauth/", 6.0)

    answers = [await _status(site.base + "/oauth/start?region=na")
               for _ in range(door.burst + 1)]

    assert [s for s, _ in answers[:-1]] == [403] * door.burst  # no invitation: refused
    status, headers = answers[-1]
    assert status == 429 and 1 <= int(headers["Retry-After"]) <= 10
    assert (await _status(site.base + "/oauth/callback?state=x"))[0] == 429  # same door
    assert (await _status(site.base + "/healthz"))[0] == 200  # not a limited door
    sns = [(await _status(site.base + "/notifications/sns", "POST", data=b"{}"))[0]
           for _ in range(door.burst + 1)]
    assert sns[-1] == 429 and 429 not in sns[:-1]


async def test_the_limiter_lets_requests_through_while_redis_is_down():
    dead = aredis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.5,  # refused
                        socket_timeout=0.5)
    bucket = TokenBucket(dead, redis_patience=0.0)
    started = time.monotonic()
    assert await limits.admit(bucket, limits.Door("oauth", "/oauth/", 1.0), "10.0.0.1") is None
    assert time.monotonic() - started < 5
    await dead.aclose()


async def test_slow_clients_are_disconnected_and_others_are_served(start_sim, make_site):
    """300 slowloris sockets dripping a request head stayed open for 40 s before: the server
    now closes each one when its read timeout passes, and keeps answering everyone else."""
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim, web_read_timeout_seconds=1.0)
    port = int(site.base.rsplit(":", 1)[1])
    closed_after, served = await slowloris(
        port, 100, limit_s=10, meanwhile=lambda: _status(site.base + "/healthz"))
    assert served[0] == 200  # served meanwhile
    assert closed_after < 5, closed_after


async def test_a_slow_body_gets_408_and_an_oversized_one_413(start_sim, make_site):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim, web_read_timeout_seconds=1.0)
    host, port = "127.0.0.1", int(site.base.rsplit(":", 1)[1])
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(b"POST /notifications/sns HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n"
                 b'{"Type": ')
    await writer.drain()
    started = time.monotonic()
    head = await asyncio.wait_for(reader.readline(), 10)
    assert head.split()[1] == b"408" and time.monotonic() - started < 5
    writer.close()

    status, _ = await _status(site.base + "/notifications/sns", "POST",
                              data=b"x" * (2 * 1024 * 1024))
    assert status == 413


async def test_malformed_requests_log_one_line_without_a_traceback(start_sim, make_site,
                                                                   caplog):
    sim = start_sim(sellers=1, orders_per_seller=1)
    site = await make_site(sim)
    host, port = "127.0.0.1", int(site.base.rsplit(":", 1)[1])
    caplog.set_level(logging.DEBUG, logger="aiohttp.server")
    for _ in range(20):
        reader, writer = await asyncio.open_connection(host, port)
        writer.write(b"GET /oauth/start?x=" + b"A" * 20_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
        await writer.drain()
        assert (await asyncio.wait_for(reader.readline(), 10)).split()[1] == b"400"
        writer.close()
    server = [r for r in caplog.records if r.name == "aiohttp.server"]
    assert len(server) == 1 and server[0].levelno == logging.WARNING
    assert server[0].exc_info is None and "LineTooLong" in server[0].getMessage()
