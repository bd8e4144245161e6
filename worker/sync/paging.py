"""How one query's pages follow each other: a small paginator protocol and its one loop.

A paginator is a little state object with three verbs: the *first* request of a query
(resuming at a token saved earlier, if any), the *next* request from the page just read,
and whether it is *done*. Its ``token`` is where the paging stands, which is what the
stream runner checkpoints after each page. Every caller that pages goes through one:
the runner (:mod:`worker.sync.runner`), v0 ``getOrderItems`` (:mod:`worker.sync.orders`)
and the outbox's reconcile reads (:mod:`worker.outbox.reconcile`), the last two through
:func:`pages`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from worker.spapi.errors import MalformedResponseError
from worker.sync.fields import parse_time

Query = dict[str, Any]


class Paginator(Protocol):
    token: str | None  # the next page's token: a caller may save it and resume there

    @property
    def done(self) -> bool: ...

    def first(self, query: Query) -> Query: ...

    def next(self, query: Query, page: Any) -> Query: ...


@dataclass
class TokenPaginator:
    """Amazon's usual shape: a page names the next page's token at ``at`` (a path of keys);
    the next request sends it as the query parameter ``param``. No token: the last page."""

    param: str
    at: tuple[str, ...]
    token: str | None = None
    done: bool = False

    def first(self, query: Query) -> Query:
        return self._with_token(query)

    def next(self, query: Query, page: Any) -> Query:
        self.token = token(dig(page, self.at))
        self.done = self.token is None
        return self._with_token(query)

    def _with_token(self, query: Query) -> Query:
        return query if self.token is None else {**query, self.param: self.token}


@dataclass
class LoneTokenPaginator(TokenPaginator):
    """The Reports API's shape: a request that carries the token carries nothing else
    ("nextToken must be the only parameter when it is sent")."""

    def _with_token(self, query: Query) -> Query:
        return query if self.token is None else {self.param: self.token}


@dataclass
class SinglePage:
    """An operation that does not page (Sales ``getOrderMetrics``): its one answer is the
    window's last page."""

    token: str | None = None
    done: bool = False

    def first(self, query: Query) -> Query:
        return query

    def next(self, query: Query, page: Any) -> Query:
        self.done = True
        return query


@dataclass(frozen=True)
class NewestFirst:
    """A list with no date filter, sorted by last update, newest first (Inbound
    ``listInboundPlans`` with ``sortBy=LAST_UPDATED_TIME&sortOrder=DESC``): a window's pages
    end at the first record last updated before the window's start, the record ``at`` naming
    the time. Records newer than the window's end are kept (newer wins; the next window
    reads them again)."""

    at: tuple[str, ...]

    def cut(self, records: list[Any], start: datetime) -> tuple[list[Any], bool]:
        """The records of the window and whether the list went past its start."""
        for n, record in enumerate(records):
            if parse_time(dig(record, self.at), ".".join(self.at)) < start:
                return records[:n], True
        return records, False


async def pages(fetch: Callable[[Query], Awaitable[Any]], query: Query, paginator: Paginator,
                *, limit: int | None = None) -> AsyncIterator[Any]:
    """Every page of ``query`` in order (at most ``limit``): the loop for callers that read a
    query to its end in one go. ``fetch`` sends one request and returns its body."""
    request, fetched = paginator.first(query), 0
    while limit is None or fetched < limit:
        page = await fetch(request)
        fetched += 1
        request = paginator.next(request, page)
        yield page
        if paginator.done:
            return


def dig(body: Any, path: tuple[str, ...]) -> Any:
    """The value at ``path`` in nested objects; None where an object is missing on the way."""
    for key in path:
        if not isinstance(body, dict):
            return None
        body = body.get(key)
    return body


def records(body: Any, path: tuple[str, ...], operation: str) -> list[Any]:
    """A page's records: the array at ``path``; anything else is a malformed response."""
    found = dig(body, path)
    if not isinstance(found, list):
        raise MalformedResponseError(f"{operation} response has no {'.'.join(path)} array")
    return found


def token(value: Any) -> str | None:
    """A page's next token: absent/empty means last page; anything but a string is malformed."""
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedResponseError("pagination token is not a string")
    return value
