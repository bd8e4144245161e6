"""One generic loop for every incremental, windowed, token-paged stream.

A stream is data: an :class:`~worker.sync.endpoint.Endpoint` bound to one ``sync_state``
row (:class:`~worker.sync.endpoint.StreamSpec`), declared in :mod:`worker.sync.registry`.
The loop owns the rest: windows capped at the run's start (its ``now``), the checkpoint
(cursor, window, next token) committed in the same transaction as each page's rows, and a
window restarted once when Amazon rejects a stored token (they expire); a second refusal in
the same window fails the run.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Generic, Protocol, TypeVar

import structlog
from sqlalchemy import Connection

from worker.db import state
from worker.db.sellers import SellerRecord
from worker.db.state import Checkpoint
from worker.ratelimit.bucket import Priority
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import InputError, MalformedResponseError
from worker.sync.endpoint import StreamSpec
from worker.sync.windows import Window, WindowPolicy, next_window

log = structlog.get_logger(__name__)

Rows = TypeVar("Rows")


@dataclass
class Totals:
    pages: int = 0
    rows: int = 0
    children: int = 0
    windows: int = 0
    waiting_for: list[str] | None = None  # streams a refresh run waited for (read nothing)
    pending: timedelta | None = None  # a report run let go while Amazon works: back after this


class Checkpoints(Protocol):
    """Where a run keeps its checkpoint: the stream's ``sync_state`` row
    (:class:`SyncStateCheckpoints`), or a backfill's ``api_backfills`` row."""

    def load(self, conn: Connection) -> Checkpoint: ...

    def save(self, conn: Connection, cp: Checkpoint, rows: int) -> None:
        """Inside the page's transaction; ``rows``: what the page wrote."""


@dataclass(frozen=True)
class SyncStateCheckpoints:
    seller_id: int
    stream: str

    def load(self, conn: Connection) -> Checkpoint:
        return state.load_checkpoint(conn, self.seller_id, self.stream)

    def save(self, conn: Connection, cp: Checkpoint, rows: int) -> None:
        state.save_checkpoint(conn, self.seller_id, self.stream, cp)


@dataclass
class StreamRun(Generic[Rows]):
    """One run of one stream for one seller, on a connection holding its lock."""

    spec: StreamSpec[Rows]
    conn: Connection
    client: SpApiClient
    seller: SellerRecord
    run_id: int
    policy: WindowPolicy
    page_size: int
    now: Callable[[], datetime]
    totals: Totals = field(default_factory=Totals)
    checkpoints: Checkpoints | None = None  # None: the stream's sync_state row
    priority: Priority = Priority.INCREMENTAL
    on_page: Callable[[Checkpoint, Totals], None] | None = None  # after each committed page
    _reported: tuple[int, int] = (0, 0)  # client calls/429s already added to the run row

    @property
    def auth(self) -> SellerAuth:
        return SellerAuth(self.seller.selling_partner_id, self.seller.region,
                          self.seller.refresh_token or "")

    @property
    def marketplace_id(self) -> str | None:
        return self.spec.marketplace_id

    @property
    def store(self) -> Checkpoints:
        return self.checkpoints or SyncStateCheckpoints(self.seller.id, self.spec.stream)

    async def run(self) -> Totals:
        with self.conn.begin():
            cp = self.store.load(self.conn)
        token_restarted = False
        started = self.now()  # the cursor never passes the run's start: every run ends
        while True:
            if cp.window_start is None or cp.window_end is None:
                w = next_window(cp.cursor, started, self.policy)
                if w is None:
                    return self.totals
                cp = Checkpoint(cp.cursor, w.start, w.end, None)
                self.totals.windows += 1
            window = Window(cp.window_start, cp.window_end)  # type: ignore[arg-type]
            try:
                body = await self._fetch(window, cp.next_token)
            except InputError as exc:
                if cp.next_token is None or token_restarted or isinstance(
                        exc, MalformedResponseError):
                    raise
                # Tokens expire or get rejected: re-read the window from its start.
                log.warning("sync.token_rejected", seller=self.seller.selling_partner_id,
                            stream=self.spec.stream, code=exc.code)
                token_restarted = True
                self.client.stats.retries += 1  # the window's first page, asked again
                cp = Checkpoint(cp.cursor, cp.window_start, cp.window_end, None)
                continue
            cp = await self._store_page(body, cp)
            if cp.window_start is None:
                token_restarted = False  # once per window: the next one may restart too

    async def _fetch(self, window: Window, token: str | None) -> Any:
        """The page at ``token`` (None: the window's first page)."""
        query = self.spec.endpoint.paginator(token).first(
            self.spec.query(window, self.seller, self.page_size))
        return (await self.client.call(self.auth, self.spec.operation,
                                       path_params=self.spec.path(self.seller),
                                       query=query, priority=self.priority)).body

    async def _store_page(self, body: Any, cp: Checkpoint) -> Checkpoint:
        records, token = self.spec.page(
            body, Window(cp.window_start, cp.window_end))  # type: ignore[arg-type]
        rows = await self.spec.rows(self, records)
        done = token is None
        after = Checkpoint(
            cursor=cp.window_end if done else cp.cursor,
            window_start=None if done else cp.window_start,
            window_end=None if done else cp.window_end,
            next_token=token,
        )
        with self.conn.begin():
            written = self.spec.write(self.conn, self.seller.id, rows)
            self.store.save(self.conn, after, written.rows)
            state.add_to_run(self.conn, self.run_id, pages=1, rows_written=written.rows,
                             child_rows_written=written.children, **self._call_counts())
        self.totals.pages += 1
        self.totals.rows += written.rows
        self.totals.children += written.children
        log.info("sync.page", seller=self.seller.selling_partner_id, stream=self.spec.stream,
                 records=len(records), written=written.rows, children=written.children,
                 more=not done)
        if self.on_page is not None:
            self.on_page(after, self.totals)
        return after

    def _call_counts(self) -> dict[str, int]:
        """Calls and 429s since the last page, so the run row shows live progress."""
        stats = self.client.stats
        calls, throttled = stats.calls - self._reported[0], stats.throttled - self._reported[1]
        self._reported = (stats.calls, stats.throttled)
        return {"api_calls": calls, "throttled": throttled}

