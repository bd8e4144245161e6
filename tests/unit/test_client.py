"""The SP-API client with fake answers (no server, no socket): a scripted HTTP session, the
real bucket script on fakeredis, a token provider of the test's own. What the client does
with each answer: hand over a page, adopt the server's rate, retry what may be retried and
nothing else, refresh a token Amazon refused once, and turn anything else into its error."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import fakeredis
import pytest

from worker.ratelimit.backoff import Backoff
from worker.ratelimit.bucket import TokenBucket, bucket_key
from worker.spapi.client import SellerAuth, SpApiClient
from worker.spapi.errors import AuthError, MalformedResponseError, QuotaWaitTooLong, ServerError

SELLER = SellerAuth("A1CLIENTTEST", "NA", "Atzr|refresh")
US = "ATVPDKIKX0DER"


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


class _Http:
    def __init__(self, answer: Answer) -> None:
        self.status = answer.status
        self.headers = {"x-amzn-RequestId": "req-1", **answer.headers}
        self._raw = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()

    async def read(self) -> bytes:
        return self._raw

    async def __aenter__(self) -> _Http:
        return self

    async def __aexit__(self, *_: object) -> None:
        return None


class Session:
    """Answers each request with the next scripted answer and remembers what was sent."""

    def __init__(self, *answers: Answer) -> None:
        self._answers: Iterator[Answer] = iter(answers)
        self.sent: list[dict[str, Any]] = []

    def request(self, method: str, url: str, *, data: bytes | None,
                headers: dict[str, str]) -> _Http:
        self.sent.append({"method": method, "url": url, "data": data, "headers": headers})
        return _Http(next(self._answers))


class Tokens:
    """An LWA token provider: a new access token after each invalidation."""

    def __init__(self) -> None:
        self.issued = 1
        self.invalidated: list[str] = []

    async def access_token(self, seller: str, refresh_token: str) -> str:
        return f"Atza|access-{self.issued}"

    async def invalidate(self, seller: str, token: str) -> None:
        self.invalidated.append(token)
        self.issued += 1


def _client(session: Session, tokens: Tokens | None = None,
            retries: int = 3) -> tuple[SpApiClient, Any]:
    redis = fakeredis.FakeAsyncRedis()
    client = SpApiClient(session, tokens or Tokens(), TokenBucket(redis),  # type: ignore[arg-type]
                         base_url="https://spapi.test",
                         backoff=Backoff(0.001, 0.01, retries, rng=random.Random(7)))
    return client, redis


PAGE = {"orders": [{"orderId": "111-1"}], "pagination": {"nextToken": "NT=="}}


async def test_a_page_is_handed_over_with_the_request_as_the_models_define_it() -> None:
    session = Session(Answer(200, PAGE, {"x-amzn-RateLimit-Limit": "0.0056"}))
    client, redis = _client(session)
    resp = await client.call(SELLER, "searchOrders", query={"marketplaceIds": [US]})
    assert (resp.status, resp.body, resp.request_id) == (200, PAGE, "req-1")
    (sent,) = session.sent
    assert sent["method"] == "GET" and urlsplit(sent["url"]).path == "/orders/2026-01-01/orders"
    assert parse_qs(urlsplit(sent["url"]).query) == {"marketplaceIds": [US]}
    assert sent["headers"]["x-amz-access-token"] == "Atza|access-1"
    # the server's usage plan replaces the table's rate in the seller's bucket
    stored = await TokenBucket(redis).state(
        bucket_key(SELLER.selling_partner_id, "NA", "searchOrders"))
    assert stored["rate"] == 0.0056
    assert (client.stats.calls, client.stats.retries, client.stats.throttled) == (1, 0, 0)


THROTTLED = {"errors": [{"code": "QuotaExceeded", "message": "slow"}]}


async def test_a_429_is_retried_after_its_retry_after_and_counted() -> None:
    # a plan of 50 calls/s: the bucket the 429 drained has a token again within 20 ms
    session = Session(Answer(429, THROTTLED, {"Retry-After": "0.02",
                                              "x-amzn-RateLimit-Limit": "50"}),
                      Answer(200, PAGE))
    client, _ = _client(session)
    resp = await client.call(SELLER, "searchOrders", query={"marketplaceIds": [US]})
    assert resp.body == PAGE and len(session.sent) == 2
    assert (client.stats.calls, client.stats.retries, client.stats.throttled) == (2, 1, 1)


async def test_a_429_drains_the_bucket_so_a_slow_plan_gives_the_slot_back() -> None:
    """At searchOrders' own rate (one call per 180 s), the drained bucket's next token is
    minutes away: the caller gets QuotaWaitTooLong with the wait, not a sleeping worker."""
    session = Session(Answer(429, THROTTLED, {"Retry-After": "0.02"}), Answer(200, PAGE))
    client, _ = _client(session)
    with pytest.raises(QuotaWaitTooLong) as caught:
        await client.call(SELLER, "searchOrders", query={"marketplaceIds": [US]})
    assert caught.value.wait > 60 and len(session.sent) == 1


async def test_a_server_error_is_retried_until_the_policy_gives_up() -> None:
    failing = Answer(503, {"errors": [{"code": "ServiceUnavailable", "message": "later"}]})
    session = Session(*[failing] * 4)
    client, _ = _client(session, retries=3)
    with pytest.raises(ServerError) as caught:
        await client.call(SELLER, "searchOrders", query={"marketplaceIds": [US]})
    assert caught.value.status == 503
    assert len(session.sent) == 4 and client.stats.retries == 3  # the first try + 3 retries


async def test_a_write_that_may_have_been_applied_is_never_sent_twice() -> None:
    session = Session(Answer(500, {"errors": [{"code": "InternalFailure", "message": "?"}]}),
                      Answer(200, {}))
    client, _ = _client(session)
    with pytest.raises(ServerError):
        await client.call(SELLER, "confirmShipment", path_params={"orderId": "111-1"},
                          body={"marketplaceId": US, "packageDetail": {}}, idempotent=False)
    assert len(session.sent) == 1 and client.stats.retries == 0


async def test_a_token_amazon_refuses_is_dropped_and_the_call_made_once_more() -> None:
    tokens = Tokens()
    session = Session(Answer(401, {"errors": [{"code": "Unauthorized", "message": "expired"}]}),
                      Answer(200, PAGE))
    client, _ = _client(session, tokens)
    resp = await client.call(SELLER, "searchOrders", query={"marketplaceIds": [US]})
    assert resp.body == PAGE and tokens.invalidated == ["Atza|access-1"]
    assert [s["headers"]["x-amz-access-token"] for s in session.sent] == [
        "Atza|access-1", "Atza|access-2"]


async def test_a_second_refusal_is_the_callers_to_handle() -> None:
    refused = Answer(401, {"errors": [{"code": "Unauthorized", "message": "no"}]})
    session = Session(refused, refused, Answer(200, PAGE))
    client, _ = _client(session)
    with pytest.raises(AuthError):
        await client.call(SELLER, "searchOrders", query={"marketplaceIds": [US]})
    assert len(session.sent) == 2


async def test_a_body_that_is_not_json_is_a_malformed_response_not_a_crash() -> None:
    session = Session(Answer(200, raw=b"<html>gateway</html>"))
    client, _ = _client(session)
    with pytest.raises(MalformedResponseError):
        await client.call(SELLER, "searchOrders", query={"marketplaceIds": [US]})


def test_an_operation_with_a_burst_of_one_is_paced_below_its_rate():
    from worker.spapi.client import paced, usable_burst

    # no token to keep in reserve at a burst of 1: the calls are spaced wider instead
    assert usable_burst(1) == 1 and paced(0.033, 1) == pytest.approx(0.033 * 0.9)
    assert usable_burst(30) == 29 and paced(0.5, 30) == 0.5
