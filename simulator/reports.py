"""Reports as data: each one's lifecycle, rendered as the Reports API ``Report``.

A report's status is a function of the clock, so nothing runs in the background: it is
IN_QUEUE for the first fifth of ``report_delay`` (``report_delay_seconds`` /
time_scale), IN_PROGRESS for the rest, then ends as its ``outcome`` — DONE, FATAL (a
document describing the error) or CANCELLED (Amazon's "no data to return" cancellation;
no document). ``cancelReport`` cancels an IN_QUEUE report. The content is taken from
the world when the report is created, so it is exactly the truth at that instant.
Report and document ids come from a seeded stream per seller.

Reports nobody asked for (Amazon's settlement reports, :mod:`settlement_book`) come from
*sources* registered with :meth:`ReportBook.schedule`: each brings one seller's scheduled
reports up to date with the clock and is asked before a seller's reports are read, and by
the finished-report watch (``watching``: only reports finishing from now on matter then).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .clock import iso
from .config import SimConfig
from .generate import ALNUM, digits, hex_text, seeded
from .spec import REPORTS, definition
from .world import World

CANCELLED, DONE, FATAL, IN_PROGRESS, IN_QUEUE = definition(REPORTS, "Report")["properties"][
    "processingStatus"
]["enum"]
QUEUED_SHARE = 0.2  # of the processing delay spent IN_QUEUE
FINISHED = frozenset({str(CANCELLED), str(DONE), str(FATAL)})


@dataclass
class Report:
    report_id: str
    seller_id: str
    report_type: str
    marketplace_ids: list[str]
    created: float
    data_start: float
    data_end: float
    delay: float
    outcome: str  # DONE | FATAL | CANCELLED
    document_id: str | None  # DONE and FATAL reports have one
    options: dict[str, str] = field(default_factory=dict)
    cancelled: bool = False  # by cancelReport, while IN_QUEUE

    @property
    def started(self) -> float:
        return self.created + self.delay * QUEUED_SHARE

    @property
    def finished(self) -> float:
        return self.created + self.delay

    def status(self, now: float) -> str:
        if self.cancelled:
            return str(CANCELLED)
        if now < self.started:
            return str(IN_QUEUE)
        if now < self.finished:
            return str(IN_PROGRESS)
        return self.outcome

    def render(self, now: float) -> dict[str, Any]:
        """The model's ``Report``; processing times and the document appear as they happen."""
        status = self.status(now)
        body: dict[str, Any] = {
            "marketplaceIds": list(self.marketplace_ids),
            "reportId": self.report_id,
            "reportType": self.report_type,
            "dataStartTime": iso(self.data_start),
            "dataEndTime": iso(self.data_end),
            "createdTime": iso(self.created),
            "processingStatus": status,
        }
        if not self.cancelled and status != IN_QUEUE:
            body["processingStartTime"] = iso(self.started)
        if not self.cancelled and status not in (IN_QUEUE, IN_PROGRESS):
            body["processingEndTime"] = iso(self.finished)
        if status in (DONE, FATAL) and self.document_id:
            body["reportDocumentId"] = self.document_id
        return body


class ReportBook:
    """Every seller's reports; ids are unique per seller, as the model says they are."""

    def __init__(self, config: SimConfig, world: World) -> None:
        self._reports: dict[str, dict[str, Report]] = {s: {} for s in world.sellers}
        self._unfinished: dict[tuple[str, str], Report] = {}  # not yet seen finished
        self._regions = {s.seller_id: s.region.lower() for s in world.sellers.values()}
        self._rngs = {
            s.seller_id: seeded(config, "reports", s.index) for s in world.sellers.values()
        }
        self._sources: list[Callable[[str, bool], None]] = []

    def schedule(self, source: Callable[[str, bool], None]) -> None:
        """Ask ``source(seller_id, watching)`` to add that seller's due scheduled reports
        before the seller's reports are read (it must not read them through this book)."""
        self._sources.append(source)

    def _refresh(self, seller_id: str, watching: bool = False) -> None:
        for source in self._sources:
            source(seller_id, watching)

    def new_report_id(self, seller_id: str, rng: random.Random | None = None) -> str:
        """The next id of the seller's stream, or of ``rng`` (ids independent of call order)."""
        taken, rng = self._reports[seller_id], rng or self._rngs[seller_id]
        while True:
            candidate = str(rng.randint(10**10, 10**11 - 1))
            if candidate not in taken:
                return candidate

    def new_document_id(self, seller_id: str, rng: random.Random | None = None) -> str:
        """Shaped like Amazon's ``amzn1.spdoc.1.4.<region>.<uuid>.T<id>.<n>``."""
        rng = rng or self._rngs[seller_id]
        uuid = "-".join(hex_text(rng, n) for n in (8, 4, 4, 4, 12))
        return (
            f"amzn1.spdoc.1.4.{self._regions[seller_id]}.{uuid}."
            f"T{_alnum(rng, 13)}.{digits(rng, 4)}"
        )

    def add(self, report: Report, announce: bool = True) -> None:
        """``announce`` False: a report that finished before the simulator started, which
        REPORT_PROCESSING_FINISHED never announces."""
        self._reports[report.seller_id][report.report_id] = report
        if announce:
            self._unfinished[(report.seller_id, report.report_id)] = report

    def newly_finished(self, now: float) -> list[Report]:
        """Reports that reached DONE, FATAL or CANCELLED since the last call, each once
        (what REPORT_PROCESSING_FINISHED announces)."""
        for seller_id in self._reports:
            self._refresh(seller_id, watching=True)
        finished = [r for r in self._unfinished.values() if r.status(now) in FINISHED]
        for report in finished:
            del self._unfinished[(report.seller_id, report.report_id)]
        return finished

    def get(self, seller_id: str, report_id: str) -> Report | None:
        self._refresh(seller_id)
        return self._reports[seller_id].get(report_id)

    def of(self, seller_id: str) -> list[Report]:
        self._refresh(seller_id)
        return list(self._reports[seller_id].values())


def _alnum(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(ALNUM) for _ in range(length))
