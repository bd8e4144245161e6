"""The paginator protocol and its one loop, with fake pages (no server, no database)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from worker.spapi.errors import MalformedResponseError
from worker.sync import registry
from worker.sync.paging import LoneTokenPaginator, TokenPaginator, dig, pages, records, token

MARKET = "ATVPDKIKX0DER"


def fake_api(book: dict[str | None, Any], param: str) -> tuple[Any, list[dict[str, Any]]]:
    """``fetch`` for :func:`pages`: the page of ``book`` named by the request's token (None:
    the first); every request it was sent is kept."""
    sent: list[dict[str, Any]] = []

    async def fetch(query: dict[str, Any]) -> Any:
        sent.append(query)
        return book[query.get(param)]

    return fetch, sent


def read_all(fetch: Any, query: dict[str, Any], paginator: Any,
             limit: int | None = None) -> list[Any]:
    async def go() -> list[Any]:
        return [page async for page in pages(fetch, query, paginator, limit=limit)]

    return asyncio.run(go())


V0_ITEMS = {
    None: {"payload": {"OrderItems": [1, 2], "NextToken": "t2"}},
    "t2": {"payload": {"OrderItems": [3], "NextToken": "t3"}},
    "t3": {"payload": {"OrderItems": [4]}},
}


def test_token_paging_sends_each_page_s_token_back_until_there_is_none():
    fetch, sent = fake_api(V0_ITEMS, "NextToken")
    paginator = TokenPaginator("NextToken", ("payload", "NextToken"))
    got = read_all(fetch, {"a": 1}, paginator)
    assert [r for page in got for r in page["payload"]["OrderItems"]] == [1, 2, 3, 4]
    assert sent == [{"a": 1}, {"a": 1, "NextToken": "t2"}, {"a": 1, "NextToken": "t3"}]
    assert paginator.done and paginator.token is None


def test_a_lone_token_is_sent_without_the_query_it_continues():
    """The Reports API: "nextToken must be the only parameter when it is sent"."""
    book = {None: {"reports": [1], "nextToken": "r2"}, "r2": {"reports": [2]}}
    fetch, sent = fake_api(book, "nextToken")
    query = {"reportTypes": ["GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE_V2"], "pageSize": 1}
    got = read_all(fetch, query, LoneTokenPaginator("nextToken", ("nextToken",)))
    assert [r for page in got for r in page["reports"]] == [1, 2]
    assert sent == [query, {"nextToken": "r2"}]


def test_a_saved_token_resumes_at_its_page():
    fetch, sent = fake_api(V0_ITEMS, "NextToken")
    got = read_all(fetch, {}, TokenPaginator("NextToken", ("payload", "NextToken"), "t3"))
    assert got == [V0_ITEMS["t3"]] and sent == [{"NextToken": "t3"}]


def test_a_limit_stops_the_loop_with_the_next_token_kept():
    fetch, sent = fake_api(V0_ITEMS, "NextToken")
    paginator = TokenPaginator("NextToken", ("payload", "NextToken"))
    assert len(read_all(fetch, {}, paginator, limit=2)) == 2
    assert len(sent) == 2 and paginator.token == "t3" and not paginator.done


@pytest.mark.parametrize("page", [
    {}, {"pagination": None}, {"pagination": "abc"}, {"pagination": {"nextToken": ""}},
    {"pagination": {}}, None, [],
])
def test_no_token_where_there_is_none_is_the_last_page(page):
    paginator = TokenPaginator("nextToken", ("pagination", "nextToken"))
    assert paginator.next({"q": 1}, page) == {"q": 1} and paginator.done


def test_a_token_that_is_not_a_string_is_a_malformed_page():
    with pytest.raises(MalformedResponseError, match="not a string"):
        TokenPaginator("nextToken", ("pagination", "nextToken")).next(
            {}, {"pagination": {"nextToken": 5}})
    assert token("t") == "t" and token("") is None and token(None) is None


def test_records_are_the_array_at_their_path_or_the_page_is_malformed():
    assert records({"payload": {"Orders": [1]}}, ("payload", "Orders"), "getOrders") == [1]
    assert dig({"a": {"b": 2}}, ("a", "b")) == 2 and dig({"a": 1}, ("a", "b")) is None
    for body in ({"payload": {}}, {"payload": {"Orders": {}}}, {"payload": []}, None):
        with pytest.raises(MalformedResponseError,
                           match=r"getOrders response has no payload\.Orders array"):
            records(body, ("payload", "Orders"), "getOrders")


# one page of each declared endpoint: its records and its next token, as the runner reads it
PAGES = [
    (registry.ORDERS, "2026-01-01", {"orders": [1], "pagination": {"nextToken": "n"}},
     "paginationToken"),
    (registry.ORDERS, "v0", {"payload": {"Orders": [1], "NextToken": "n"}}, "NextToken"),
    (registry.INVENTORY, "2026-01-01",
     {"payload": {"inventorySummaries": [1]}, "pagination": {"nextToken": "n"}}, "nextToken"),
    (registry.LISTINGS, "2026-01-01",
     {"numberOfResults": 1, "items": [1], "pagination": {"nextToken": "n"}}, "pageToken"),
]


@pytest.mark.parametrize(("kind", "version", "body", "param"), PAGES)
def test_every_endpoint_reads_its_records_and_token_and_asks_for_the_next(kind, version, body,
                                                                          param):
    spec = kind.spec(kind.stream(MARKET if kind.per_marketplace else None), version)
    assert spec.page(body) == ([1], "n")
    paginator = spec.endpoint.paginator(None)
    assert paginator.next({"x": 1}, body) == {"x": 1, param: "n"}
    assert spec.endpoint.paginator("n").first({"x": 1}) == {"x": 1, param: "n"}
