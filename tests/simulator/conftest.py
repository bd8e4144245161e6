"""``make_sim(**config)``: mount a fresh simulator on loopback with ``aiohttp_client``."""

from __future__ import annotations

from typing import Any

import pytest

from simulator import SimConfig, create_app
from simulator.clock import Clock

from .simkit import MakeSim, Sim


@pytest.fixture
def make_sim(aiohttp_client: Any) -> MakeSim:
    """Factory: config overrides as keywords (60 orders per seller unless told), optional clock."""

    async def factory(clock: Clock | None = None, **overrides: Any) -> Sim:
        config = SimConfig(**{"orders_per_seller": 60, **overrides})
        clock = clock or Clock()
        client = await aiohttp_client(create_app(config, clock=clock))
        return Sim(client, config, clock)

    return factory
