from __future__ import annotations

import pytest

from worker.spapi.errors import (
    AuthError,
    InputError,
    NotFoundError,
    QuotaWaitTooLong,
    RetriableError,
    ServerError,
    SpApiError,
    ThrottledError,
    error_for_response,
)


@pytest.mark.parametrize(
    ("status", "kind"),
    [(429, ThrottledError), (500, ServerError), (503, ServerError), (400, InputError),
     (422, InputError), (403, AuthError), (401, AuthError), (404, NotFoundError)],
)
def test_status_maps_to_what_the_caller_should_do(status, kind):
    body = {"errors": [{"code": "X", "message": "m"}]}
    err = error_for_response(status, body, seller="A1", operation="getOrders", request_id="r-1")
    assert type(err) is kind
    assert (err.seller, err.operation, err.status, err.request_id, err.code) == (
        "A1", "getOrders", status, "r-1", "X")
    assert "seller=A1" in str(err) and "operation=getOrders" in str(err)


def test_retriable_errors_carry_retry_after_and_odd_bodies_are_tolerated():
    err = error_for_response(503, "<html>", retry_after=7.0)
    assert isinstance(err, RetriableError) and err.retry_after == 7.0 and err.code is None


def test_a_quota_deferral_is_a_retriable_error_carrying_its_wait():
    err = QuotaWaitTooLong("rl:{A1:NA}:getOrders", 42.5)
    assert isinstance(err, RetriableError) and not isinstance(err, ServerError)
    assert err.retry_after == err.wait == 42.5 and err.key == "rl:{A1:NA}:getOrders"
    assert str(err) == "quota for rl:{A1:NA}:getOrders frees up in 42.5s"


def test_report_and_outbox_errors_sit_in_the_tree_where_their_caller_acts():
    from worker.outbox.enqueue import InvalidCommand
    from worker.outbox.params import InvalidParams
    from worker.sync.report_parse import TruncatedDocumentError
    from worker.sync.reports import ReportFailedError, ReportStillProcessingError

    assert issubclass(ReportStillProcessingError, RetriableError)  # the next run polls again
    assert issubclass(ReportFailedError, SpApiError)
    assert not issubclass(ReportFailedError, RetriableError | InputError)
    assert issubclass(TruncatedDocumentError, InputError)
    for refused in (InvalidParams, InvalidCommand):  # fatal input, never sent
        assert issubclass(refused, InputError) and issubclass(refused, ValueError)
    assert str(InvalidParams("params.sku: too long")) == "params.sku: too long"


class _QuotaSpent:
    """A bucket whose next token is further away than the caller may wait; counts the
    reservations asked for. The wait is short enough that a retry loop would try again."""

    def __init__(self) -> None:
        self.asked = 0

    async def while_redis_is_down(self, key, command):
        return await command()

    async def acquire(self, key, rate, burst, max_wait, priority, *, spare=True):
        self.asked += 1
        raise QuotaWaitTooLong(key, 1.0)


class _Tokens:
    async def access_token(self, seller, refresh_token):
        return "Atza|t"


def test_the_client_hands_a_quota_deferral_to_its_caller_without_retrying_inline():
    import asyncio

    from worker.spapi.client import SellerAuth, SpApiClient

    bucket = _QuotaSpent()
    client = SpApiClient(None, _Tokens(), bucket)  # type: ignore[arg-type]
    with pytest.raises(QuotaWaitTooLong) as caught:
        asyncio.run(client.call(SellerAuth("A1", "NA", "r"), "getOrders",
                                query={"MarketplaceIds": ["ATVPDKIKX0DER"]}))
    assert caught.value.wait == 1.0 and bucket.asked == 1
    assert client.stats.retries == 0 and client.stats.calls == 0
