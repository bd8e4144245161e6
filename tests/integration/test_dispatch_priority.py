"""The order path's syncs go ahead of the rest in the broker's queue: a seller's report and
money runs due first, dispatched first, still reach a worker after its orders run (real
Postgres, real Redis, read back as a worker's channel reads it)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from kombu import Connection
from sqlalchemy import create_engine, text

import worker.sync.dispatch as dispatcher
from worker.broker import PRIORITY_STEPS, queue_keys
from worker.config import Settings
from worker.db.engine import sqlalchemy_url
from worker.enqueue import BULK, URGENT
from worker.status import queue_depth
from worker.sync.registry import FINANCES, INVENTORY, LISTINGS, ORDERS, RETURNS

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 1, tzinfo=UTC)
# Due in this order: the bulk kinds first, the order path's last.
STREAMS = [RETURNS.stream("A"), FINANCES.stream(), INVENTORY.stream("A"), ORDERS.stream(),
           LISTINGS.stream("A")]


def test_the_order_path_is_taken_before_kinds_due_earlier(clean: Any, broker: str) -> None:
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


def test_priorities_fall_on_kombu_steps_and_keys() -> None:
    assert URGENT in PRIORITY_STEPS and BULK in PRIORITY_STEPS and URGENT < BULK
    assert queue_keys("spsync")[0] == "spsync" and len(set(queue_keys("spsync"))) == 4
    assert dispatcher.priority("orders", {"orders"}) == URGENT
    assert dispatcher.priority("returns:A", {"orders"}) == BULK
