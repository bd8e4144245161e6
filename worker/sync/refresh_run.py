"""One run of a refresh kind (:class:`~worker.sync.declaration.Refresh`; the catalog): read
the keys it names again, in batches, until none is due.

There is no window and no token: what is due is a query on the kind's own table (keys
missing from it, or read longer ago than the kind's maximum age), so a run killed half-way
leaves the batches it committed fresh and the next run reads only the rest. Every key asked
is written, found or not (a key Amazon does not know is recorded as such), so a run always
ends: each batch makes its keys fresh for the maximum age.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from sqlalchemy import Connection

from worker.db import state
from worker.db.sellers import SellerRecord
from worker.spapi.client import SellerAuth, SpApiClient
from worker.sync import paging, registry
from worker.sync.declaration import StreamKind
from worker.sync.runner import Totals

log = structlog.get_logger(__name__)


@dataclass
class RefreshRun:
    """One run of a refresh kind's stream for one seller, on a connection holding its lock."""

    kind: StreamKind
    stream: str
    conn: Connection
    client: SpApiClient
    seller: SellerRecord
    run_id: int
    max_age: timedelta
    now: Callable[[], datetime]
    totals: Totals = field(default_factory=Totals)
    _counted: int = 0  # client calls already added to the run row

    async def run(self) -> Totals:
        refresh = self.kind.refresh
        market = self.kind.marketplace_of(self.stream)
        if refresh is None or market is None:
            raise ValueError(f"stream kind {self.kind.name!r} is not a per-marketplace refresh")
        auth = SellerAuth(self.seller.selling_partner_id, self.seller.region,
                          self.seller.refresh_token or "")
        sources = [s for name in refresh.after for s in registry.kind(name).streams([market])]
        with self.conn.begin():
            pending = state.never_synced(self.conn, self.seller.id, sources)
        if pending:  # their rows name the keys: nothing to read before they have synced
            self.totals.waiting_for = pending
            return self.totals
        before = self.now() - self.max_age  # keys read in this run are newer: it ends
        while True:
            with self.conn.begin():
                keys = refresh.due(self.conn, self.seller.id, market, before, refresh.batch)
            if not keys:
                return self.totals
            sent = refresh.body(self.seller, market, keys) if refresh.body else None
            body = (await self.client.call(auth, refresh.operation,
                                           query=refresh.query(self.seller, market, keys) or None,
                                           body=sent)).body
            rows = refresh.rows(self.seller, market, keys,
                                paging.records(body, refresh.records, refresh.operation))
            with self.conn.begin():
                written = refresh.write(self.conn, self.seller.id, rows, self.now())
                state.add_to_run(self.conn, self.run_id, pages=1, rows_written=written.rows,
                                 api_calls=self.client.stats.calls - self._counted)
            self._counted = self.client.stats.calls
            self.totals.pages += 1
            self.totals.rows += written.rows
            log.info("sync.refresh", keys=len(keys), written=written.rows)
