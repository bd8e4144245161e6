"""Everything one simulator instance holds, built from a config in one place."""

from __future__ import annotations

import random
from dataclasses import dataclass

from .clock import Clock
from .config import SimConfig
from .faults import FaultBook
from .generate import build_world, seeded
from .inventory import Stock, stock_for
from .lwa import Lwa
from .mutations import ChangeLoop, Mutator
from .pagination import TokenCodec
from .quotas import QuotaBook
from .spec import Operation, served_operations
from .world import World


@dataclass
class Simulator:
    config: SimConfig
    clock: Clock
    started: float
    world: World
    lwa: Lwa
    quotas: QuotaBook
    faults: FaultBook
    tokens: TokenCodec
    mutator: Mutator
    changes: ChangeLoop
    operations: dict[str, Operation]
    inventory: dict[str, dict[tuple[str, str], Stock]]  # seller -> (marketplace, sku) -> stock
    inventory_rngs: dict[str, random.Random]  # seeded inventory changes, one stream per seller


def build_simulator(config: SimConfig, clock: Clock | None = None) -> Simulator:
    clock = clock or Clock()
    started = clock.now()
    world = build_world(config, int(started))
    mutator = Mutator(config, world)
    return Simulator(
        config=config,
        clock=clock,
        started=started,
        world=world,
        lwa=Lwa(config, clock, world),
        quotas=QuotaBook(clock, config.time_scale),
        faults=FaultBook(),
        tokens=TokenCodec(config.seed, clock, config.pagination_ttl_seconds),
        mutator=mutator,
        changes=ChangeLoop(mutator, world, clock, config.changes_per_minute),
        operations=served_operations(),
        inventory={
            s.seller_id: stock_for(s, seeded(config, "inventory", s.index), int(started),
                                   config.history_days)
            for s in world.sellers.values()
        },
        inventory_rngs={
            s.seller_id: seeded(config, "inventory-changes", s.index)
            for s in world.sellers.values()
        },
    )
