"""Orders sync against real Postgres, real Redis and the simulator."""

from __future__ import annotations

import asyncio

import pytest

from worker.sync.service import run_stream

from .helpers import SimClock, mirror, register, table, truth

pytestmark = pytest.mark.integration


def orders_state(rt, columns):
    return table(rt, f"SELECT {columns} FROM sync_state WHERE stream = 'orders'")


def orders_runs(rt, columns):
    return table(rt, f"SELECT {columns} FROM sync_runs WHERE stream = 'orders'")


def sync(rt, seller_id, clock=None):
    now = {"now": clock.now} if clock else {}
    return asyncio.run(run_stream(rt, seller_id, "orders", **now))


@pytest.mark.parametrize("api", ["2026-01-01", "v0"])
def test_full_sync_equals_truth(start_sim, runtime_for, api):
    sim = start_sim(sellers=2, orders_per_seller=230, time_scale=1000, seed=3)
    rt = runtime_for(sim, orders_page_size=50)
    ids = register(rt, sim, {"NA": api, "EU": api})
    for spid, seller_id in ids.items():
        outcome = sync(rt, seller_id)
        assert outcome.status == "succeeded"
        assert outcome.totals.pages >= 5  # 230 orders in pages of 50: really paged
        assert mirror(rt, seller_id) == truth(sim, spid)
    runs = orders_runs(rt, "status, pages, rows_written, api_calls")
    assert [r.status for r in runs] == ["succeeded", "succeeded"]
    assert all(r.rows_written == 230 and r.api_calls >= r.pages for r in runs)
    state = orders_state(rt, "cursor, next_token, window_start, last_error")
    assert all(s.cursor is not None and s.next_token is None and s.window_start is None
               and s.last_error is None for s in state)


@pytest.mark.parametrize("api", ["2026-01-01", "v0"])
def test_second_sync_picks_up_exactly_the_changes(start_sim, runtime_for, api):
    sim = start_sim(sellers=1, orders_per_seller=120, time_scale=1000, seed=5)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim, {"NA": api}).items()
    sync(rt, seller_id)
    (before,), = table(rt, "SELECT max(sync_version) FROM orders")
    changed = set(sim.client.mutate(spid, 7))
    clock = SimClock(sim)
    clock.advance(sim.config.lag_seconds + 1.1)  # the changes age past Amazon's 2-min rule
    assert sync(rt, seller_id, clock).status == "succeeded"
    rewritten = {r[0] for r in table(
        rt, "SELECT amazon_order_id FROM orders WHERE sync_version > :v", v=before)}
    assert rewritten == changed  # overlapping windows re-read, but rewrite nothing unchanged
    assert mirror(rt, seller_id) == truth(sim, spid)


def test_malformed_page_leaves_mirror_and_checkpoint_untouched(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=150, time_scale=1000, seed=7)
    rt = runtime_for(sim, orders_page_size=50)
    (spid, seller_id), = register(rt, sim).items()
    sim.client.fault("searchOrders", "malformed", count=1)
    outcome = sync(rt, seller_id)
    assert outcome.status == "failed"
    assert table(rt, "SELECT count(*) FROM orders")[0][0] == 0
    st = orders_state(rt, "cursor, next_token, last_error")[0]
    assert st.cursor is None and st.next_token is None
    assert "unexpected payload" in st.last_error or "orders" in st.last_error
    run = orders_runs(rt, "status, error_type, seller_id")[0]
    assert (run.status, run.error_type) == ("failed", "MalformedResponseError")
    # the next run starts clean and converges
    assert sync(rt, seller_id).status == "succeeded"
    assert mirror(rt, seller_id) == truth(sim, spid)


def test_failure_mid_window_keeps_committed_pages_and_resumes(start_sim, runtime_for,
                                                              monkeypatch):
    sim = start_sim(sellers=1, orders_per_seller=150, time_scale=1000, seed=8)
    rt = runtime_for(sim, orders_page_size=50, max_retries=0, orders_max_window_hours=24 * 90)
    (spid, seller_id), = register(rt, sim).items()
    from worker.sync.runner import StreamRun

    original = StreamRun._store_page
    stored = []

    async def store_then_arm_fault(self, body, cp):
        result = await original(self, body, cp)
        if not stored:  # page 1 is committed; the next response is cut mid-JSON
            sim.client.fault("searchOrders", "truncated", count=1)
        stored.append(result)
        return result

    monkeypatch.setattr(StreamRun, "_store_page", store_then_arm_fault)
    assert sync(rt, seller_id).status == "failed"
    assert table(rt, "SELECT count(*) FROM orders")[0][0] == 50
    st = orders_state(rt, "next_token, window_start")[0]
    assert st.next_token and st.window_start  # the checkpoint sits right after page 1
    assert sync(rt, seller_id).status == "succeeded"
    assert mirror(rt, seller_id) == truth(sim, spid)


def test_rejected_pagination_token_restarts_the_window(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=80, time_scale=1000, seed=9)
    rt = runtime_for(sim, orders_page_size=50)
    (spid, seller_id), = register(rt, sim).items()
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    with rt.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text(
            "UPDATE sync_state SET window_start = :a, window_end = :b, next_token = 'forged' "
            "WHERE stream = 'orders'"),
            {"a": now - timedelta(days=40), "b": now - timedelta(seconds=5)})
    assert sync(rt, seller_id).status == "succeeded"
    assert mirror(rt, seller_id) == truth(sim, spid)


def test_invalid_grant_disables_only_that_seller(start_sim, runtime_for):
    sim = start_sim(sellers=2, orders_per_seller=20, time_scale=1000, seed=11)
    rt = runtime_for(sim)
    ids = register(rt, sim)
    revoked, healthy = list(ids)
    sim.client.revoke(revoked)
    assert sync(rt, ids[revoked]).status == "failed"
    assert sync(rt, ids[healthy]).status == "succeeded"
    rows = {r.selling_partner_id: r for r in table(
        rt, "SELECT selling_partner_id, enabled, disabled_reason FROM sellers")}
    assert not rows[revoked].enabled and "invalid_grant" in rows[revoked].disabled_reason
    assert rows[healthy].enabled
    assert sync(rt, ids[revoked]).status == "skipped"  # disabled sellers are not synced


def test_throttling_and_5xx_are_retried_inside_the_client(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=60, time_scale=1000, seed=12)
    rt = runtime_for(sim)
    (spid, seller_id), = register(rt, sim).items()
    sim.client.fault("searchOrders", "throttle", count=2)
    sim.client.fault("searchOrders", "http_503", count=1)
    outcome = sync(rt, seller_id)
    assert outcome.status == "succeeded"
    run = orders_runs(rt, "throttled, retries")[0]
    assert run.throttled == 2 and run.retries == 3
    assert mirror(rt, seller_id) == truth(sim, spid)


def test_one_sync_per_seller_and_stream_at_a_time(start_sim, runtime_for):
    sim = start_sim(sellers=1, orders_per_seller=200, time_scale=1000, seed=13)
    rt = runtime_for(sim, orders_page_size=20)
    (spid, seller_id), = register(rt, sim).items()

    async def both():
        return await asyncio.gather(run_stream(rt, seller_id, "orders"),
                                    run_stream(rt, seller_id, "orders"))

    statuses = sorted(o.status for o in asyncio.run(both()))
    assert statuses == ["skipped", "succeeded"]
    assert mirror(rt, seller_id) == truth(sim, spid)


def test_a_server_that_keeps_failing_ends_in_a_recorded_failure(start_sim, runtime_for):
    from worker.spapi.errors import ServerError

    sim = start_sim(sellers=1, orders_per_seller=10, time_scale=1000, seed=14)
    rt = runtime_for(sim, max_retries=2)
    (seller_id,) = register(rt, sim).values()
    sim.client.fault("searchOrders", "http_503", count=50)
    with pytest.raises(ServerError):  # for the task to retry later, a bounded number of times
        sync(rt, seller_id)
    run = orders_runs(rt, "status, error_type, api_calls, retries")[0]
    assert (run.status, run.error_type, run.api_calls, run.retries) == (
        "failed", "ServerError", 3, 2)
    assert orders_state(rt, "last_error")[0][0]


def test_a_sync_that_finds_its_stream_busy_rearms_the_schedule(start_sim, runtime_for):
    """A claim pushed due_at far out, then found the lock taken: it must not strand the pair."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import text

    from worker.db import state

    sim = start_sim(sellers=1, orders_per_seller=5, time_scale=1000, seed=15)
    rt = runtime_for(sim, orders_interval_seconds=2)
    (seller_id,) = register(rt, sim).values()
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE sync_state SET due_at = now() + interval '1 hour' "
                          "WHERE stream = 'orders'"))
    with rt.engine.connect() as holder:
        assert state.try_lock(holder, seller_id, "orders", "another-worker")
        assert sync(rt, seller_id).status == "skipped"
        state.unlock(holder, seller_id, "orders")
    (due_at,) = orders_state(rt, "due_at")[0]
    assert due_at <= datetime.now(UTC) + timedelta(seconds=2)
