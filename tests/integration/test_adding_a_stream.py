"""Adding a stream is one declaration (docs/adding-a-stream.md): a toy kind registered here,
and nothing else changed, is given to sellers, planned with its settings, dispatched,
synced, counted by ``status``, labelled in metrics and scheduled in ``/metrics``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import Connection, create_engine, text

from worker import enqueue
from worker.db.engine import sqlalchemy_url
from worker.db.sellers import get_seller
from worker.status import collect, per_seller
from worker.sync import registry
from worker.sync.catalog import interval_of, plan
from worker.sync.declaration import StreamKind, Tuning
from worker.sync.dispatch import dispatch
from worker.sync.endpoint import Endpoint, Written, each
from worker.sync.registry import tokens
from worker.sync.service import run_stream
from worker.sync.windows import Bounds

from .helpers import register, table

pytestmark = pytest.mark.integration


def toy_query(seller: Any, marketplace_id: str | None, size: int) -> dict[str, Any]:
    return {"details": True, "granularityType": "Marketplace", "granularityId": marketplace_id,
            "marketplaceIds": [marketplace_id]}


def toy_row(marketplace_id: str, doc: Any) -> tuple[str, str]:
    return marketplace_id, str(doc["sellerSku"])


def write_toys(conn: Connection, seller_id: int, rows: list[tuple[str, str]]) -> Written:
    written = 0
    for market, sku in rows:
        written += conn.execute(text(
            "INSERT INTO toy_rows VALUES (:s, :m, :k) ON CONFLICT DO NOTHING"),
            {"s": seller_id, "m": market, "k": sku}).rowcount
    return Written(written)


TOY = StreamKind(
    name="toys", table="toy_rows", key=("seller_id", "marketplace_id", "seller_sku"),
    per_marketplace=True,
    endpoint=Endpoint(
        operation="getInventorySummaries", paginator=tokens("nextToken", "pagination", "nextToken"),
        records=("payload", "inventorySummaries"), query=toy_query,
        bounds=Bounds("startDateTime", lookback=timedelta(days=540)),
        rows=each(toy_row), write=write_toys),
    tuning=Tuning(interval=timedelta(minutes=7), overlap=timedelta(0), page_size=50),
)


@pytest.fixture
def toys(clean: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The toy kind declared, and its table (what its migration would create)."""
    engine = create_engine(sqlalchemy_url(clean.database_url))
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE toy_rows (seller_id bigint, marketplace_id text, "
                          "seller_sku text, PRIMARY KEY (seller_id, marketplace_id, seller_sku))"))
    monkeypatch.setattr(registry, "KINDS", (*registry.KINDS, TOY))
    yield
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE toy_rows"))
    engine.dispose()


def test_a_declared_kind_is_planned_dispatched_synced_shown_and_labelled(
        toys, start_sim, runtime_for, monkeypatch):
    sim = start_sim(sellers=1, orders_per_seller=1, time_scale=1000, seed=31)
    rt = runtime_for(sim, toys_interval_seconds=420)  # SPSYNC_TOYS_INTERVAL_SECONDS
    (seller_id,) = register(rt, sim).values()  # sellers get the streams it declares
    markets = sim.world()["sellers"][0]["marketplace_ids"]
    stream = TOY.stream(markets[0])
    assert {r[0] for r in table(rt, "SELECT stream FROM sync_state")} >= {
        TOY.stream(m) for m in markets}

    with rt.engine.begin() as conn:
        seller = get_seller(conn, seller_id, rt.keyring)
    planned = plan(rt.settings, seller, stream)
    assert (planned.kind, planned.spec.operation, planned.interval, planned.page_size) == (
        TOY, "getInventorySummaries", timedelta(seconds=420), 50)
    assert interval_of(rt.settings, stream) == timedelta(seconds=420)  # in /metrics

    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(enqueue, "send_many",
                        lambda task, calls: sent.extend((task, *args) for args, _ in calls))
    # a new seller's streams come due a millisecond apart, in declaration order: toys last
    dispatch(rt, datetime.now(UTC) + timedelta(seconds=1))
    assert (enqueue.SYNC_STREAM, seller_id, stream) in sent

    labels = {"stream_kind": "toys", "status": "succeeded"}
    before = REGISTRY.get_sample_value("spsync_sync_runs_total", labels) or 0.0
    outcome = asyncio.run(run_stream(rt, seller_id, stream))
    assert outcome.status == "succeeded" and outcome.totals.rows > 0
    assert REGISTRY.get_sample_value("spsync_sync_runs_total", labels) == before + 1

    with rt.engine.begin() as conn:
        rows = collect(conn)
    (shown,) = [r for r in rows if r["stream"] == stream]
    assert shown["rows"] == outcome.totals.rows == table(
        rt, "SELECT count(*) FROM toy_rows WHERE marketplace_id = :m", m=markets[0])[0][0]
    assert shown["api_calls"] >= 1 and shown["last_success_at"] is not None
    assert per_seller(rows)[seller_id]["toys"] == outcome.totals.rows
    assert registry.operation_of(stream, seller) == "getInventorySummaries"
