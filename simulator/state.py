"""Everything one simulator instance holds, built from a config in one place."""

from __future__ import annotations

from dataclasses import dataclass

from .catalog_changes import CatalogMutator
from .catalog_gen import add_catalogs
from .clock import Clock
from .config import SimConfig
from .consent import ConsentDesk
from .documents import DocumentStore
from .faults import FaultBook
from .finances import FinanceBook
from .generate import build_world, seeded
from .lwa import Lwa
from .mutations import ChangeLoop, Mutator
from .pagination import TokenCodec
from .publisher import Notifications
from .quotas import QuotaBook
from .reports import ReportBook
from .settlement_book import SettlementBook
from .spec import Operation, all_operations
from .world import World
from .write_state import InboundBook, WriteLog


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
    catalog: CatalogMutator  # stock and listing changes
    changes: ChangeLoop
    operations: dict[str, Operation]
    reports: ReportBook
    documents: DocumentStore
    consent: ConsentDesk  # Seller Central's consent page: who approves, counts
    notifications: Notifications  # destinations, subscriptions, publishing to SQS
    writes: WriteLog  # write operations received / applied, per key (see writes.py)
    inbound: InboundBook  # FBA inbound plans and their operations
    finances: FinanceBook  # transactions and payout groups, derived from the orders
    settlements: SettlementBook  # the settlement reports Amazon schedules itself


def build_simulator(config: SimConfig, clock: Clock | None = None) -> Simulator:
    clock = clock or Clock()
    started = clock.now()
    world = build_world(config, int(started))
    add_catalogs(config, world)
    lwa = Lwa(config, clock, world)
    reports = ReportBook(config, world)
    notifications = Notifications(config, clock, lwa.app.application_id, reports)
    mutator = Mutator(config, world, notifications)
    catalog = CatalogMutator(config, world, notifications)
    documents, finances = DocumentStore(config.seed), FinanceBook(config.seed)
    settlements = SettlementBook(config, clock, world, finances, reports, documents)
    return Simulator(
        config=config,
        clock=clock,
        started=started,
        world=world,
        lwa=lwa,
        quotas=QuotaBook(clock, config.time_scale),
        faults=FaultBook(seeded(config, "faults"), clock.now),
        tokens=TokenCodec(config.seed, clock, config.pagination_ttl_seconds),
        mutator=mutator,
        catalog=catalog,
        changes=ChangeLoop(mutator, world, clock, config.changes_per_minute, catalog),
        operations=all_operations(),
        reports=reports,
        documents=documents,
        consent=ConsentDesk(lwa, world),
        notifications=notifications,
        writes=WriteLog(),
        inbound=InboundBook(),
        finances=finances,
        settlements=settlements,
    )
