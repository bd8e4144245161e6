"""One lease-based work queue: how ``sync_state``, ``notifications_inbox`` and ``outbox``
hand out their rows.

A row is *due* when its lease column (``due_at``, ``next_attempt_at``) is at or before now.

- **Claim** (:meth:`WorkQueue.claim`): one statement, ``UPDATE … FROM`` a ``MATERIALIZED``
  CTE that picks due rows ``FOR UPDATE SKIP LOCKED``, pushes the lease of up to ``limit``
  rows ahead and, where the table counts them, counts an attempt. Any number of workers
  claim at once without ever taking the same row, and one round trip claims a whole batch
  (the dispatcher claims 500 pairs a statement: ``benchmarks/scale.py``).
- **Work**: the caller commits the claim before it works, so no transaction stays open
  across an HTTP call. A worker that dies leaves a row that is due again once its lease has
  run out; nobody has to notice the death.
- **Outcome**: recorded *under the lease* (:meth:`WorkQueue.held`): only while the row is
  still that attempt's, so a worker whose lease ran out and was taken over changes nothing.
- **Failure**: :class:`Retries` says when a failed row is due again (a delay that grows with
  its attempts) or that it is parked (``max_attempts`` reached).

Transactions: callers own them. Nothing here begins or commits.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, inspect, select, update
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.dml import ReturningUpdate

When = datetime | ColumnElement[datetime]  # the caller's clock, or the database's (now())


@dataclass(frozen=True)
class Lease:
    """One claim of one row: the attempt it counted, and who holds it where the table says."""

    attempts: int
    holder: str | None = None


@dataclass(frozen=True)
class Retries:
    """After a failed attempt: due again after ``base`` x 2^(attempts-1) seconds (at most
    ``cap``), or parked once ``max_attempts`` attempts were made."""

    max_attempts: int
    base: float = 0.0
    cap: float = 0.0

    def delay(self, attempts: int) -> float:
        return float(min(self.cap, self.base * 2 ** max(0, attempts - 1)))

    def exhausted(self, attempts: int) -> bool:
        return attempts >= self.max_attempts


@dataclass(frozen=True)
class WorkQueue:
    """A table used as a work queue: its lease column, and the columns that count attempts
    and name the holder (None where the table keeps no such thing)."""

    table: Any  # the mapped class
    due: InstrumentedAttribute[Any]
    attempts: InstrumentedAttribute[Any] | None = None
    holder: InstrumentedAttribute[Any] | None = None

    def claim(
        self, now: When, *, lease: timedelta, limit: int,
        where: Iterable[ColumnElement[bool]] = (), join: tuple[Any, Any] | None = None,
        order_by: Iterable[Any] = (), count: bool = False, returning: Iterable[Any] = (),
    ) -> ReturningUpdate[Any]:
        """The claim statement: up to ``limit`` due rows matching ``where`` (``join``: a
        (table, on) to filter by), in ``order_by`` (default: the lease column), their lease
        moved to ``now + lease``; ``count`` adds one to their attempts.

        Rows: the primary key, ``was_due`` (the lease before the claim), then ``returning``
        (as updated). Their order is the database's: sort on ``was_due`` where it matters.
        """
        keys = list(inspect(self.table).primary_key)
        due = select(*keys, self.due).where(self.due <= now, *where)
        if join is not None:
            due = due.join(*join)
        # MATERIALIZED: the locking SELECT runs exactly once, whatever plan the UPDATE gets.
        picked = (
            due.order_by(*(tuple(order_by) or (self.due,))).limit(limit)
            .with_for_update(of=self.table, skip_locked=True)
            .cte("due").prefix_with("MATERIALIZED")
        )
        values: dict[Any, Any] = {self.due: now + lease}
        if count:
            values |= self.attempt()
        return (
            update(self.table)
            .where(*(key == picked.c[key.name] for key in keys))
            .values(values)
            .returning(*keys, picked.c[self.due.key].label("was_due"), *returning)
        )

    def attempt(self) -> Mapping[Any, Any]:
        """The values that count one more attempt."""
        if self.attempts is None:
            raise TypeError(f"{self.table.__tablename__} counts no attempts")
        return {self.attempts: self.attempts + 1}

    def held(self, lease: Lease) -> list[ColumnElement[bool]]:
        """Conditions for recording an outcome: the row is still the claim ``lease``'s."""
        held: list[ColumnElement[bool]] = []
        if self.attempts is not None:
            held.append(self.attempts == lease.attempts)
        if self.holder is not None and lease.holder is not None:
            held.append(self.holder == lease.holder)
        return held

    def due_within(self, within: timedelta) -> Mapping[Any, Any]:
        """The values that make a row due again within ``within`` at the latest (a claim may
        have pushed its lease further out)."""
        return {self.due: func.least(self.due, func.now() + within)}

    def due_in(self, delay: timedelta, now: When | None = None) -> Mapping[Any, Any]:
        """The values that make a row due ``delay`` after ``now`` (default: the database's)."""
        return {self.due: (func.now() if now is None else now) + delay}
