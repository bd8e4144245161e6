"""Settlement reports that Amazon schedules itself, their re-issues and their truth.

Every Closed payout group of a seller's ledger (:mod:`finances`: a 14-day period per
currency, with a transaction in it) is one settlement, and its settlement becomes one DONE
``GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2`` report in the seller's :class:`ReportBook`,
created when the period closes; nobody calls createReport. It is a function of the world
and the clock, worked out when a seller's reports are read (getReports, getReport, the
finished-report watch) and the clock has crossed a period end since the last look; its
lines, total and document only when first asked for. A
settlement whose period closed before the simulator started exists from the start and is
never announced; one that closes while it runs is announced by REPORT_PROCESSING_FINISHED
(the watch). Report and document ids are seeded per settlement and issue, so they do not
depend on when the settlements were looked at.

``POST /_sim/settlements/reissue`` re-issues a settlement as Amazon sometimes does: a new
report (new id, new document, created now) for the same settlement id, its lines those of
the latest issue plus one seeded balance correction, its total updated.
``GET /_sim/truth/settlements`` is the latest issue of each settlement.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from aiohttp import web

from .clock import Clock, iso
from .config import SimConfig
from .documents import TSV, DocumentStore, stored, tsv_lines
from .finances import DAY, GROUP_ANCHOR, GROUP_DAYS, ZERO, Entry, FinanceBook, Group
from .finances import total as entry_total
from .reports import DONE, Report, ReportBook
from .settlements import (
    COLUMNS,
    SETTLEMENT_REPORT,
    Row,
    correction_row,
    deposit_date,
    line_rows,
    settlement_id,
    summary_row,
)
from .world import World

PERIOD = GROUP_DAYS * DAY


@dataclass(frozen=True)
class Settlement:
    """One issue of one settlement and the report that carries it. Its lines and total are
    worked out when first asked for (most settlements are never downloaded)."""

    settlement_id: str
    seller_id: str
    group: Group
    entries: tuple[Entry, ...]  # the group's transactions, in ledger order
    corrections: tuple[tuple[Decimal, int], ...]  # re-issues' extra lines: amount, posted
    issue: int  # 0 for the first
    report: Report
    seed: int

    @cached_property
    def lines(self) -> tuple[Row, ...]:
        rows = line_rows(self.seed, self.settlement_id, self.entries)
        rows += [correction_row(self.settlement_id, a, p) for a, p in self.corrections]
        return tuple(rows)

    @cached_property
    def total(self) -> Decimal:
        ledger = sum((entry_total(entry) for entry in self.entries), ZERO)
        return ledger + sum((amount for amount, _ in self.corrections), ZERO)

    def file_lines(self) -> list[str]:
        summary = summary_row(self.settlement_id, self.group, self.total)
        return tsv_lines(COLUMNS, [list(summary), *map(list, self.lines)])

    def render(self) -> dict[str, Any]:
        return {
            "settlementId": self.settlement_id,
            "startDate": iso(self.group.start),
            "endDate": iso(self.group.end),
            "depositDate": iso(deposit_date(self.group)),
            "totalAmount": f"{self.total:.2f}",
            "currency": self.group.currency,
            "reportId": self.report.report_id,
            "lines": [dict(zip(COLUMNS, row, strict=True)) for row in self.lines],
        }


def last_period_end(now: float) -> int:
    """The latest payout period end at or before ``now``."""
    return GROUP_ANCHOR + int((now - GROUP_ANCHOR) // PERIOD) * PERIOD


class SettlementBook:
    """Every seller's settlements, each a list of issues (oldest first)."""

    def __init__(self, config: SimConfig, clock: Clock, world: World, finances: FinanceBook,
                 reports: ReportBook, documents: DocumentStore) -> None:
        self._config, self._clock, self._world = config, clock, world
        self._finances, self._reports, self._documents = finances, reports, documents
        self._started = clock.now()
        self._issues: dict[str, dict[str, list[Settlement]]] = {s: {} for s in world.sellers}
        self._seen: dict[str, int] = {}  # seller → the period end it was brought up to
        reports.schedule(self.sync)

    def sync(self, seller_id: str, watching: bool = False) -> None:
        """Issue a settlement for every closed group of the seller that has none yet.

        ``watching`` (the finished-report watch): a seller not looked at yet is left alone
        until a period closes while the simulator runs, since the settlements of the
        periods closed before its start are never announced (and its ledger costs a scan
        of its orders)."""
        now = self._clock.now()
        boundary = last_period_end(now)
        if self._seen.get(seller_id) == boundary or (
                watching and seller_id not in self._seen and boundary <= self._started):
            return
        self._seen[seller_id] = boundary
        ledger = self._finances.ledger(self._world.sellers[seller_id])
        issued = self._issues[seller_id]
        for group, entries in ledger.groups(now).items():
            sid = settlement_id(self._config.seed, seller_id, group)
            if group.end <= now and sid not in issued:
                self._issue(seller_id, sid, group, tuple(entries), (), created=group.end,
                            announce=group.end > self._started)

    def reissue(self, seller_id: str, wanted: str) -> Settlement:
        """A new issue of settlement ``wanted``: one more line; KeyError when unknown."""
        self.sync(seller_id)
        latest = self._issues[seller_id][wanted][-1]
        rng = self._rng(seller_id, wanted, latest.issue + 1, "correction")
        amount = Decimal(rng.randint(-2500, 2500) or 1) / 100
        posted = latest.group.end - rng.randint(1, PERIOD - 1)
        return self._issue(seller_id, wanted, latest.group, latest.entries,
                           (*latest.corrections, (amount, posted)), created=self._clock.now(),
                           announce=True)

    def latest(self, seller_id: str) -> list[Settlement]:
        """The latest issue of each of the seller's settlements, oldest period first."""
        self.sync(seller_id)
        found = [issues[-1] for issues in self._issues[seller_id].values()]
        return sorted(found, key=lambda s: (s.group.start, s.group.currency))

    def _issue(self, seller_id: str, sid: str, group: Group, entries: tuple[Entry, ...],
               corrections: tuple[tuple[Decimal, int], ...], *, created: float,
               announce: bool) -> Settlement:
        issues = self._issues[seller_id].setdefault(sid, [])
        rng = self._rng(seller_id, sid, len(issues), "ids")
        document_id = self._reports.new_document_id(seller_id, rng)
        seller = self._world.sellers[seller_id]
        report = Report(
            report_id=self._reports.new_report_id(seller_id, rng),
            seller_id=seller_id,
            report_type=SETTLEMENT_REPORT,
            marketplace_ids=[m.marketplace_id for m in seller.marketplaces
                             if m.currency == group.currency],
            created=created,
            data_start=group.start,
            data_end=group.end,
            delay=0.0,
            outcome=str(DONE),
            document_id=document_id,
        )
        settlement = Settlement(sid, seller_id, group, entries, corrections, len(issues),
                                report, self._config.seed)
        self._documents.add_later(document_id, lambda: stored(
            document_id, seller_id, TSV, settlement.file_lines()))
        self._reports.add(report, announce=announce)
        issues.append(settlement)
        return settlement

    def _rng(self, seller_id: str, sid: str, issue: int, purpose: str) -> random.Random:
        return random.Random(f"{self._config.seed}:settlement:{seller_id}:{sid}:{issue}:"
                             f"{purpose}")


# --- /_sim/truth/settlements and /_sim/settlements/reissue ----------------------------------


def add_routes(app: web.Application, book: SettlementBook, world: World) -> None:
    def error(message: str) -> web.Response:
        return web.json_response({"error": message}, status=400)

    async def truth(request: web.Request) -> web.Response:
        seller_id = request.query.get("seller_id", "")
        if seller_id not in world.sellers:
            return error(f"unknown seller_id {seller_id!r}")
        return web.json_response({"settlements": [s.render() for s in book.latest(seller_id)]})

    async def reissue(request: web.Request) -> web.Response:
        try:
            data = json.loads(await request.text() or "{}")
        except ValueError:
            return error("body must be JSON")
        if not isinstance(data, dict):
            return error("body must be a JSON object")
        seller_id, wanted = str(data.get("seller_id")), str(data.get("settlement_id"))
        if seller_id not in world.sellers:
            return error(f"unknown seller_id {seller_id!r}")
        try:
            settlement = book.reissue(seller_id, wanted)
        except KeyError:
            return error(f"seller {seller_id} has no settlement {wanted!r}")
        return web.json_response(settlement.render())

    app.router.add_get("/_sim/truth/settlements", truth)
    app.router.add_post("/_sim/settlements/reissue", reissue)
