from __future__ import annotations

import pytest

from worker.spapi.errors import (
    AuthError,
    InputError,
    NotFoundError,
    RetriableError,
    ServerError,
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
