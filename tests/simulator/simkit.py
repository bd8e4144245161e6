"""Helpers for the simulator tests: a :class:`Sim` handle and model schema checks.

A :class:`Sim` holds the test client, the config and the clock (tests move time with
``sim.clock.advance`` instead of sleeping), plus the calls every test needs: sellers,
access tokens, SP-API GETs, ground truth. Tests never sleep for a fixed time either: one that
waits for something polls for it with a deadline (:func:`until`), and one that checks that
nothing happened first waits until the simulator's background loops have run
(:meth:`Sim.idle`), so a stalled loop fails the test instead of passing it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from aiohttp.test_utils import TestClient
from jsonschema import Draft4Validator

from simulator import SimConfig
from simulator.clock import Clock, iso
from worker.spapi_models import load

EPOCH = "2000-01-01T00:00:00Z"
POLL_SECONDS = 0.02
T = TypeVar("T")


async def until(probe: Callable[[], Awaitable[T]], ready: Callable[[T], bool], *,
                within: float = 10.0) -> T:
    """What ``probe`` returns once ``ready`` holds for it; fails with the last value when it
    has not within ``within`` seconds."""
    deadline = time.monotonic() + within
    while not ready(value := await probe()):
        assert time.monotonic() < deadline, value
        await asyncio.sleep(POLL_SECONDS)
    return value


@dataclass
class Sim:
    client: TestClient
    config: SimConfig
    clock: Clock

    async def stats(self) -> dict[str, Any]:
        resp = await self.client.get("/_sim/stats")
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body

    async def idle(self, passes: int = 2, within: float = 10.0) -> dict[str, Any]:
        """``/_sim/stats`` once every background loop (the change loop, the finished-report
        watch) has completed ``passes`` more passes than when called and no notification is
        waiting to be sent: whatever the simulator would do on its own by then, it has done.
        Each loop sleeps between passes, so the ones counted ran wholly after the call."""
        start = (await self.stats())["background"]

        def ran(stats: dict[str, Any]) -> bool:
            return stats["notifications"]["pending"] == 0 and all(
                stats["background"][loop] >= count + passes for loop, count in start.items())

        return await until(self.stats, ran, within=within)

    async def sellers(self) -> dict[str, Any]:
        resp = await self.client.get("/_sim/sellers")
        assert resp.status == 200
        body: dict[str, Any] = await resp.json()
        return body

    async def seller(self, index: int = 0) -> dict[str, Any]:
        seller: dict[str, Any] = (await self.sellers())["sellers"][index]
        return seller

    async def token_response(self, **form: str) -> tuple[int, dict[str, Any]]:
        resp = await self.client.post("/auth/o2/token", data=form)
        return resp.status, await resp.json()

    async def access_token(self, index: int = 0) -> str:
        listing = await self.sellers()
        app, seller = listing["application"], listing["sellers"][index]
        status, body = await self.token_response(
            grant_type="refresh_token",
            refresh_token=seller["refresh_token"],
            client_id=app["client_id"],
            client_secret=app["client_secret"],
        )
        assert status == 200, body
        token: str = body["access_token"]
        return token

    async def get(self, path: str, token: str, params: Any = None) -> tuple[int, Any, Any]:
        """(status, parsed JSON body, headers) of one SP-API GET."""
        resp = await self.client.get(path, params=params, headers={"x-amz-access-token": token})
        return resp.status, await resp.json(content_type=None), resp.headers

    async def truth(self, seller_id: str) -> list[dict[str, Any]]:
        resp = await self.client.get("/_sim/truth/orders", params={"seller_id": seller_id})
        assert resp.status == 200
        orders: list[dict[str, Any]] = (await resp.json())["orders"]
        return orders

    async def post(self, path: str, body: Any) -> tuple[int, Any]:
        resp = await self.client.post(path, json=body)
        return resp.status, await resp.json()

    def recent(self, seconds_ago: float) -> str:
        return iso(self.clock.now() - seconds_ago)


MakeSim = Callable[..., Awaitable[Sim]]


def schema_errors(model: str, definition: str, body: Any) -> list[str]:
    """Messages for every way ``body`` breaks the model's definition (empty when valid)."""
    definitions = load(model)["definitions"]
    schema = {"$ref": f"#/definitions/{definition}", "definitions": definitions}
    return [e.message for e in Draft4Validator(schema).iter_errors(body)]
