"""What a stream pages through: an :class:`Endpoint` (one SP-API list operation: what every
request asks, how a window is asked for, its paginator, where a page's records are, how
they are mapped and written, and how one record is read again), and a :class:`StreamSpec`
binding it to one ``sync_state.stream``. Stream kinds declare theirs in
:mod:`worker.sync.registry`; the loop that runs them is :mod:`worker.sync.runner`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from sqlalchemy import Connection

from worker.db.sellers import SellerRecord
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import MalformedResponseError
from worker.sync import paging
from worker.sync.paging import NewestFirst, Paginator, Query
from worker.sync.windows import Bounds, Window

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
    # Where a page's records are: the array at this path, or what this function finds in
    # the page (v0 listFinancialEvents: one object of event lists).
    records: tuple[str, ...] | Callable[[Any], list[Any]]
    query: Callable[[SellerRecord, str | None, int], Query]  # (seller, marketplace, page size)
    bounds: Bounds | None  # how a window is asked for (None: ``window_query`` does it)
    rows: Callable[[Scope, list[Any]], Awaitable[Rows]]  # the mapper
    write: Callable[[Connection, int, Rows], Written]
    # Path parameters, for operations whose path names the seller (e.g. searchListingsItems).
    path: Callable[[SellerRecord], dict[str, str]] | None = None
    # A quirk: look at each page and its next token (raise, or warn) before it is mapped.
    check: Callable[[Any, str | None], None] | None = None
    lookup: Lookup | None = None  # reading one record again; None: make the stream due
    # The window's query parameters when two ``Bounds`` parameters cannot say it (Sales
    # getOrderMetrics: one ``interval`` parameter, "<start>--<end>").
    window_query: Callable[[Window], Query] | None = None
    # A list with no date filter, newest first: a window ends at the first record older than
    # its start, whatever the token says (``paging.NewestFirst``).
    newest_first: NewestFirst | None = None


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
        ep = self.endpoint
        bounds = ep.window_query(window) if ep.window_query is not None else (
            ep.bounds.query(window) if ep.bounds is not None else {})
        return ep.query(seller, self.marketplace_id, size) | bounds

    def path(self, seller: SellerRecord) -> dict[str, str] | None:
        return self.endpoint.path(seller) if self.endpoint.path else None

    def page(self, body: Any, window: Window | None = None) -> tuple[list[Any], str | None]:
        """A page's records and the next page's token (None: the window's last page); a
        newest-first list also ends at the first record older than ``window``'s start."""
        at = self.endpoint.records
        records = at(body) if callable(at) else paging.records(body, at, self.operation)
        paginator = self.endpoint.paginator(None)
        paginator.next({}, body)
        if self.endpoint.check is not None:
            self.endpoint.check(body, paginator.token)
        newest = self.endpoint.newest_first
        if newest is not None and window is not None:
            records, past = newest.cut(records, window.start)
            if past:
                return records, None
        return records, paginator.token

    async def rows(self, scope: Scope, records: list[Any]) -> Rows:
        return await self.endpoint.rows(scope, records)

    def write(self, conn: Connection, seller_id: int, rows: Rows) -> Written:
        return self.endpoint.write(conn, seller_id, rows)
