"""The order path's syncs go ahead of the rest in the broker's queue: a seller's report and
money runs due first, dispatched first, still reach a worker after its orders run (real
Postgres, real Redis, read back as a worker's channel reads it). On RabbitMQ the queue is a
quorum queue and the same syncs carry RabbitMQ's sense of priority (higher first)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import create_engine, text

import worker.sync.dispatch as dispatcher
from tests.e2e.procs import wait
from worker.broker import PRIORITY_STEPS, queue_keys
from worker.config import Settings
from worker.db.engine import sqlalchemy_url
from worker.enqueue import AMQP_BULK, AMQP_URGENT, BULK, URGENT
from worker.status import queue_depth
from worker.sync.registry import FINANCES, INVENTORY, LISTINGS, ORDERS, RETURNS

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, tzinfo=UTC)
# Due in this order: the bulk kinds first, the order path's last.
STREAMS = [RETURNS.stream("A"), FINANCES.stream(), INVENTORY.stream("A"), ORDERS.stream(),
           LISTINGS.stream("A")]


def _dispatch_streams(clean: Any) -> list[tuple[int, str]]:
    """``STREAMS`` of one seller, due in their order, dispatched in one tick."""
    engine = create_engine(sqlalchemy_url(clean.database_url))
    with engine.begin() as conn:
        seller_id = conn.execute(text(
            "INSERT INTO sellers (selling_partner_id, region, marketplace_ids) "
            "VALUES ('APRIORITY', 'NA', '{A}') RETURNING id")).scalar_one()
        for n, stream in enumerate(STREAMS):
            conn.execute(text("INSERT INTO sync_state (seller_id, stream, due_at) "
                              "VALUES (:s, :t, :d)"),
                         {"s": seller_id, "t": stream, "d": T0 + timedelta(seconds=n)})
    rt = SimpleNamespace(engine=engine, settings=Settings(dispatch_interval_seconds=10))
    sent = dispatcher.dispatch(rt, T0 + timedelta(minutes=1))  # type: ignore[arg-type]
    engine.dispose()
    return sent


def test_the_order_path_is_taken_before_kinds_due_earlier(clean: Any, broker: str) -> None:
    sent = _dispatch_streams(clean)
    assert [stream for _, stream in sent] == STREAMS  # claimed in due order
    assert queue_depth(clean.redis_url, "spsync") == len(STREAMS)  # every priority's list

    taken = []
    with Connection(clean.redis_url,
                    transport_options={"priority_steps": list(PRIORITY_STEPS)}) as conn:
        queue = conn.SimpleQueue("spsync")
        for _ in STREAMS:
            message = queue.get(timeout=5)
            taken.append(message.payload[0][1])  # a Celery message: (args, kwargs, embed)
            message.ack()
        queue.close()
    urgent = [ORDERS.stream(), INVENTORY.stream("A"), LISTINGS.stream("A")]
    assert sorted(taken[:3]) == sorted(urgent)
    assert taken[3:] == [RETURNS.stream("A"), FINANCES.stream()]  # then in due order


def test_priorities_fall_on_kombu_steps_and_keys(broker: str) -> None:  # on Redis
    assert URGENT in PRIORITY_STEPS and BULK in PRIORITY_STEPS and URGENT < BULK
    assert queue_keys("spsync")[0] == "spsync" and len(set(queue_keys("spsync"))) == 4
    assert dispatcher.priority("orders", {"orders"}) == URGENT
    assert dispatcher.priority("returns:A", {"orders"}) == BULK


@pytest.fixture
def on_rabbitmq(rabbitmq: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """What the dispatcher publishes through (``enqueue.app``) is a Celery app configured for
    a RabbitMQ broker as a worker's would be; the process's own app is left alone (its
    routing, once built, would keep RabbitMQ's topic exchange for later tests on Redis)."""
    from worker import enqueue
    from worker.app import _make_app, _on_rabbitmq, app

    celery = _make_app()  # a new app makes itself Celery's current one
    celery.conf.broker_url = rabbitmq
    _on_rabbitmq(celery)
    monkeypatch.setattr(enqueue, "app", celery)
    yield rabbitmq
    celery.close()
    app.set_current()


def test_on_rabbitmq_a_quorum_queue_carries_the_order_path_high(clean: Any,
                                                                on_rabbitmq: str) -> None:
    import amqp.exceptions

    sent = _dispatch_streams(clean)
    assert [stream for _, stream in sent] == STREAMS
    # published without confirms: the quorum queue counts them once its log has them
    wait(lambda: queue_depth(on_rabbitmq, "spsync") == len(STREAMS), 10, "5 messages queued")
    with Connection(on_rabbitmq) as conn:
        channel = conn.channel()
        priorities = {}
        for _ in STREAMS:
            message = channel.basic_get("spsync", no_ack=True)
            priorities[message.headers["argsrepr"].split("'")[1]] = \
                message.properties["priority"]
        with pytest.raises(amqp.exceptions.PreconditionFailed):  # it is no classic queue
            conn.channel().queue_declare("spsync", durable=True,
                                         arguments={"x-queue-type": "classic"})
    urgent = {ORDERS.stream(), INVENTORY.stream("A"), LISTINGS.stream("A")}
    assert priorities == {s: AMQP_URGENT if s in urgent else AMQP_BULK for s in STREAMS}
    assert AMQP_URGENT > 4 >= AMQP_BULK  # RabbitMQ 4's quorum queues: above 4 is high


def test_a_batch_of_sends_lands_whole_or_not_at_all(clean: Any, broker: str) -> None:
    from worker import enqueue

    enqueue.send_many(enqueue.SYNC_STREAM, [((n, "orders"), URGENT) for n in range(700)]
                      + [((n, "returns:A"), BULK) for n in range(300)])
    assert queue_depth(broker, "spsync") == 1000

    def calls() -> Iterator[tuple[tuple[object, ...], int | None]]:
        yield (1, "orders"), URGENT
        raise RuntimeError("the dispatcher failed mid-batch")

    with pytest.raises(RuntimeError):
        enqueue.send_many(enqueue.SYNC_STREAM, calls())
    assert queue_depth(broker, "spsync") == 1000  # the buffered message was not published
