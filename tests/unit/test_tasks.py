"""The Celery tasks are thin shells: check only what they add on top of the plain functions."""

from __future__ import annotations

import pytest
from celery.exceptions import Retry
from sqlalchemy.exc import OperationalError

import tasks.sync as task_module
from worker.spapi.errors import LwaCoolingDown, QuotaWaitTooLong, ServerError
from worker.sync.runner import Totals
from worker.sync.service import Outcome


@pytest.fixture
def run_stream(monkeypatch):
    calls = []

    def install(result):
        async def fake(rt, seller_id, stream):
            calls.append((seller_id, stream))
            if isinstance(result, BaseException):
                raise result
            return result

        monkeypatch.setattr(task_module, "run_stream", fake)
        monkeypatch.setattr(task_module, "get_runtime", lambda: None)
        return calls

    return install


def test_task_calls_the_plain_function_with_parsed_arguments(run_stream):
    calls = run_stream(Outcome("succeeded", Totals()))
    assert task_module.sync_stream.run("7", "orders") == "succeeded"
    assert calls == [(7, "orders")]


@pytest.mark.parametrize("wait", [
    QuotaWaitTooLong("rl:{A:NA}:getOrders", 42.5),
    # LWA's shared cool-down after failed refreshes: back when it ends, not after backoff
    LwaCoolingDown("paused", seller="A", operation="lwa.refresh", retry_after=42.5),
], ids=["quota", "lwa cool-down"])
def test_a_long_wait_requeues_with_that_countdown(wait, run_stream, monkeypatch):
    run_stream(wait)
    seen = {}

    def fake_retry(**kw):
        seen.update(kw)
        return Retry()

    monkeypatch.setattr(task_module.sync_stream, "retry", fake_retry)
    with pytest.raises(Retry):
        task_module.sync_stream.run(1, "orders")
    assert seen["countdown"] == 42.5 and seen["max_retries"] is None


@pytest.mark.parametrize("err", [
    ServerError("HTTP 503", status=503),  # the client's own retries ran out
    # Found by tests/chaos/test_infra_restarts.py: a Postgres restart failed the task, and the
    # stream waited for the dispatcher's claim to expire (5 minutes by default).
    OperationalError("SELECT 1", {}, Exception("the database system is shutting down")),
], ids=["retriable SP-API error", "database outage mid-run"])
def test_a_failure_worth_another_run_is_retried_by_celery(err, run_stream, monkeypatch):
    run_stream(err)
    seen = {}
    monkeypatch.setattr(task_module.sync_stream, "retry",
                        lambda **kw: seen.update(kw) or Retry())
    with pytest.raises(Retry):
        task_module.sync_stream.run(1, "orders")
    assert seen["exc"] is err
    assert 0 <= seen["countdown"] <= 30  # first unit retry: full jitter under the base


def test_task_is_named_and_acks_late():
    t = task_module.sync_stream
    assert t.name == "spsync.sync_stream" and t.acks_late and t.ignore_result


def test_a_worker_waits_out_a_broker_outage_of_any_length():
    from worker.app import app

    # Celery's default gives up after 100 attempts (~47 min) and the worker exits
    assert app.conf.broker_connection_max_retries is None
    assert app.conf.worker_cancel_long_running_tasks_on_connection_loss is False


def _failures(task_name: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value("spsync_task_failures_total", {"task": task_name}) or 0.0


class Flaky(ServerError):
    pass


class Broken(ServerError):
    pass


def test_the_base_task_runs_a_coroutine_with_its_ids_in_the_log_context():
    import structlog

    from tasks.base import spsync_task

    seen = {}

    @spsync_task("spsync.test_context")
    async def body(seller_id: int, stream: str, **_: object) -> str:
        seen.update(structlog.contextvars.get_contextvars())
        return f"{seller_id}/{stream}"

    assert body.run(7, "orders", extra="not bound") == "7/orders"
    assert seen == {"task": "spsync.test_context", "seller_id": 7, "stream": "orders"}
    assert structlog.contextvars.get_contextvars() == {}  # restored afterwards
    assert body.name == "spsync.test_context" and body.acks_late and body.ignore_result


def test_retries_are_declared_retry_on_minus_exclude(monkeypatch):
    from tasks.base import spsync_task
    from worker.ratelimit.backoff import Backoff

    @spsync_task("spsync.test_retry", retry_on=(ServerError,), retry_exclude=(Broken,),
                 backoff=Backoff(base=2.0, cap=2.0, max_retries=3))
    def body(error: BaseException) -> None:
        raise error

    seen = {}
    monkeypatch.setattr(body, "retry", lambda **kw: seen.update(kw) or Retry())
    flaky = Flaky("HTTP 503")
    with pytest.raises(Retry):
        body.run(flaky)
    assert seen["exc"] is flaky and 0 <= seen["countdown"] <= 2.0 and body.max_retries == 3
    seen.clear()
    with pytest.raises(Broken):  # excluded: surfaces at once
        body.run(Broken("HTTP 500"))
    with pytest.raises(KeyError):  # not declared: surfaces at once
        body.run(KeyError("x"))
    assert seen == {}


def test_a_task_that_raised_is_counted_a_retried_one_is_not(monkeypatch):
    from tasks.base import spsync_task

    @spsync_task("spsync.test_counted", retry_on=(Flaky,), max_retries=None)
    def body(error: BaseException) -> None:
        raise error

    before = _failures("spsync.test_counted")
    body.apply(args=(KeyError("x"),))
    assert _failures("spsync.test_counted") == before + 1
    monkeypatch.setattr(body, "retry", lambda **kw: Retry())
    body.apply(args=(Flaky("HTTP 503"),))
    assert _failures("spsync.test_counted") == before + 1
