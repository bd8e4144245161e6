"""The work queue's statements and policy, without a database: what a claim asks Postgres
to do, what an outcome is conditioned on, when a failed row comes back or is parked."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func
from sqlalchemy.dialects import postgresql

from worker.db.models import OutboxCommand, SyncState
from worker.db.workqueue import Lease, Retries, WorkQueue

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def sql(stmt) -> str:
    return " ".join(str(stmt.compile(dialect=postgresql.dialect())).split())


def test_a_claim_is_one_statement_that_skips_held_rows_and_pushes_the_lease():
    stmt = WorkQueue(SyncState, SyncState.due_at).claim(NOW, lease=timedelta(minutes=5),
                                                        limit=500)
    text = sql(stmt)
    assert text.startswith("WITH due AS MATERIALIZED (SELECT sync_state.seller_id")
    assert "WHERE sync_state.due_at <= " in text and "ORDER BY sync_state.due_at" in text
    assert "FOR UPDATE OF sync_state SKIP LOCKED" in text
    assert "UPDATE sync_state SET due_at=" in text
    assert "WHERE sync_state.seller_id = due.seller_id AND sync_state.stream = due.stream" in text
    assert text.endswith("RETURNING sync_state.seller_id, sync_state.stream, due.due_at AS was_due")
    assert stmt.compile().params["due_at"] == NOW + timedelta(minutes=5)


def test_a_claim_can_count_the_attempt_use_the_database_clock_and_return_more():
    queue = WorkQueue(OutboxCommand, OutboxCommand.next_attempt_at, OutboxCommand.attempts)
    text = sql(queue.claim(func.now(), lease=timedelta(seconds=30), limit=1,
                           where=[OutboxCommand.id == 7], order_by=[OutboxCommand.created_at],
                           count=True, returning=[OutboxCommand.attempts]))
    assert "outbox.next_attempt_at <= now() AND outbox.id = " in text
    assert "ORDER BY outbox.created_at" in text
    assert "attempts=(outbox.attempts + " in text and "next_attempt_at=(now() + " in text
    assert text.endswith("due.next_attempt_at AS was_due, outbox.attempts")


def test_an_outcome_is_recorded_only_under_the_claim_that_made_it():
    queue = WorkQueue(OutboxCommand, OutboxCommand.next_attempt_at, OutboxCommand.attempts,
                      OutboxCommand.claimed_by)
    held = [sql(c) for c in queue.held(Lease(3, "host:1"))]
    assert held == ["outbox.attempts = %(attempts_1)s::INTEGER",
                    "outbox.claimed_by = %(claimed_by_1)s::VARCHAR"]
    assert [sql(c) for c in queue.held(Lease(3))] == ["outbox.attempts = %(attempts_1)s::INTEGER"]
    assert WorkQueue(SyncState, SyncState.due_at).held(Lease(1)) == []


def test_failed_rows_come_back_later_and_later_then_are_parked():
    retries = Retries(max_attempts=5, base=30.0, cap=100.0)
    assert [retries.delay(n) for n in (1, 2, 3, 4)] == [30.0, 60.0, 100.0, 100.0]
    assert [retries.exhausted(n) for n in (4, 5, 6)] == [False, True, True]
    assert Retries(max_attempts=5).delay(3) == 0.0  # the next sweep takes it again
