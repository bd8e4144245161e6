"""One generic loop for every incremental, windowed, token-paged stream.

A stream is data: an :class:`Endpoint` (which operation, what every request asks, how a
window is asked for, its paginator, where a page's records are, how they are mapped and
written), bound to one ``sync_state`` row by a :class:`StreamSpec`. The declarations live
in :mod:`worker.sync.registry`. The loop owns the rest: windows capped at the run's start,
the checkpoint (cursor, window, next token) committed in the same transaction as each
page's rows, and a window restarted once when Amazon rejects a stored token (they expire);
a second refusal in the same window fails the run.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

import structlog
from sqlalchemy import Connection

from worker.db import state
from worker.db.sellers import SellerRecord
from worker.db.state import Checkpoint
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import InputError, MalformedResponseError
from worker.sync import paging
from worker.sync.paging import Paginator, Query
from worker.sync.windows import Bounds, Window, WindowPolicy, next_window

log = structlog.get_logger(__name__)

Rows = TypeVar("Rows")
Row = TypeVar("Row")


@dataclass(frozen=True)
class Written:
    rows: int  # top-level rows actually written (new or newer)
    children: int = 0  # e.g. order items


class Scope(Protocol):
    """What mapping a page may use: a stream run, or a notification's refresh."""

    @property
    def conn(self) -> Connection: ...
    @property
    def client(self) -> SpApiClient: ...
    @property
    def seller(self) -> SellerRecord: ...
    @property
    def marketplace_id(self) -> str | None: ...
    @property
    def auth(self) -> SellerAuth: ...


@dataclass(frozen=True)
class Lookup:
    """How one record is read again by its key (a notification said it changed).

    ``request(seller, marketplace_id, key)`` gives the path parameters and the query;
    ``at`` is where the answer holds the record(s); ``one``: an object, not an array.
    """

    operation: str
    request: Callable[[SellerRecord, str | None, str], tuple[dict[str, str] | None, Query]]
    at: tuple[str, ...] = ()
    one: bool = True

    def records(self, body: Any) -> list[Any]:
        if not self.one:
            return paging.records(body, self.at, self.operation)
        found = paging.dig(body, self.at)
        if not isinstance(found, dict):
            where = ".".join(self.at) or "body"
            raise MalformedResponseError(f"{self.operation} response {where} is not an object",
                                         operation=self.operation)
        return [found]


@dataclass(frozen=True)
class Endpoint(Generic[Rows]):
    """One SP-API list operation a stream pages through, and what becomes of its pages."""

    operation: str
    paginator: Callable[[str | None], Paginator]  # a fresh one, resuming at a saved token
    records: tuple[str, ...]  # where a page's records are
    query: Callable[[SellerRecord, str | None, int], Query]  # (seller, marketplace, page size)
    bounds: Bounds  # how a window is asked for
    rows: Callable[[Scope, list[Any]], Awaitable[Rows]]  # the mapper
    write: Callable[[Connection, int, Rows], Written]
    # Path parameters, for operations whose path names the seller (e.g. searchListingsItems).
    path: Callable[[SellerRecord], dict[str, str]] | None = None
    # A quirk: look at each page and its next token (raise, or warn) before it is mapped.
    check: Callable[[Any, str | None], None] | None = None
    lookup: Lookup | None = None  # reading one record again; None: make the stream due


def each(map_one: Callable[[str, Any], Row]) -> Callable[[Scope, list[Any]], Awaitable[list[Row]]]:
    """The page mapper of a per-marketplace stream: ``map_one(marketplace_id, record)``."""
    async def rows(scope: Scope, records: list[Any]) -> list[Row]:
        if scope.marketplace_id is None:
            raise ValueError("a per-marketplace mapper was given no marketplace")
        return [map_one(scope.marketplace_id, r) for r in records]

    return rows


@dataclass(frozen=True)
class StreamSpec(Generic[Rows]):
    """An endpoint bound to one ``sync_state.stream`` (and its marketplace, if split)."""

    stream: str
    endpoint: Endpoint[Rows]
    marketplace_id: str | None = None

    @property
    def operation(self) -> str:
        return self.endpoint.operation

    def query(self, window: Window, seller: SellerRecord, size: int) -> Query:
        """The first request of ``window`` (before any token)."""
        return self.endpoint.query(seller, self.marketplace_id, size) | self.endpoint.bounds.query(
            window)

    def path(self, seller: SellerRecord) -> dict[str, str] | None:
        return self.endpoint.path(seller) if self.endpoint.path else None

    def page(self, body: Any) -> tuple[list[Any], str | None]:
        """A page's records and the next page's token (None: the window's last page)."""
        records = paging.records(body, self.endpoint.records, self.operation)
        paginator = self.endpoint.paginator(None)
        paginator.next({}, body)
        if self.endpoint.check is not None:
            self.endpoint.check(body, paginator.token)
        return records, paginator.token

    async def rows(self, scope: Scope, records: list[Any]) -> Rows:
        return await self.endpoint.rows(scope, records)

    def write(self, conn: Connection, seller_id: int, rows: Rows) -> Written:
        return self.endpoint.write(conn, seller_id, rows)


@dataclass
class Totals:
    pages: int = 0
    rows: int = 0
    children: int = 0
    windows: int = 0


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
    _reported: tuple[int, int] = (0, 0)  # client calls/429s already added to the run row

    @property
    def auth(self) -> SellerAuth:
        return SellerAuth(self.seller.selling_partner_id, self.seller.region,
                          self.seller.refresh_token or "")

    @property
    def marketplace_id(self) -> str | None:
        return self.spec.marketplace_id

    async def run(self) -> Totals:
        with self.conn.begin():
            cp = state.load_checkpoint(self.conn, self.seller.id, self.spec.stream)
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
                                       query=query)).body

    async def _store_page(self, body: Any, cp: Checkpoint) -> Checkpoint:
        records, token = self.spec.page(body)
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
            state.save_checkpoint(self.conn, self.seller.id, self.spec.stream, after)
            state.add_to_run(self.conn, self.run_id, pages=1, rows_written=written.rows,
                             child_rows_written=written.children, **self._call_counts())
        self.totals.pages += 1
        self.totals.rows += written.rows
        self.totals.children += written.children
        log.info("sync.page", seller=self.seller.selling_partner_id, stream=self.spec.stream,
                 records=len(records), written=written.rows, children=written.children,
                 more=not done)
        return after

    def _call_counts(self) -> dict[str, int]:
        """Calls and 429s since the last page, so the run row shows live progress."""
        stats = self.client.stats
        calls, throttled = stats.calls - self._reported[0], stats.throttled - self._reported[1]
        self._reported = (stats.calls, stats.throttled)
        return {"api_calls": calls, "throttled": throttled}

