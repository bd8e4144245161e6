"""The dispatcher: claim every due (seller, stream) and enqueue its sync by task name.

Beat's tick (``spsync.dispatch_due``, ``tasks/dispatch.py``) runs it for everyone; the
web app runs it for one seller right after onboarding (``worker/web/onboarding.py``).
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from worker import enqueue
from worker.db.state import claim_due
from worker.runtime import Runtime
from worker.sync.registry import synced

BATCH = 500  # pairs claimed, committed and enqueued at a time


def dispatch(rt: Runtime, now: datetime, *, seller_id: int | None = None,
             budget_seconds: float | None = None, batch: int | None = None,
             ) -> list[tuple[int, str]]:
    """Claim due pairs (SKIP LOCKED) batch by batch, enqueueing each batch after its claim
    committed, until none is left or the budget (half the dispatch interval) is spent.

    One batch a tick was a ceiling: at 10,000 sellers more streams come due per tick than
    one batch holds, and the backlog grew for ever (``benchmarks/scale.py``).
    ``seller_id``: only that seller's (e.g. its first sync, right after onboarding).
    ``batch``: pairs per claim (default :data:`BATCH`).
    """
    settings = rt.settings
    hold = timedelta(seconds=settings.dispatch_claim_seconds)
    budget = settings.dispatch_interval_seconds / 2 if budget_seconds is None \
        else budget_seconds
    limit = BATCH if batch is None else batch
    deadline = time.monotonic() + budget
    urgent = {k.name for k in synced() if k.urgent}
    sent: list[tuple[int, str]] = []
    while True:
        with rt.engine.begin() as conn:
            pairs = claim_due(conn, now, limit=limit, hold=hold, regions=settings.regions,
                              seller_id=seller_id)
        enqueue.send_many(enqueue.SYNC_STREAM,
                          [(pair, priority(pair[1], urgent)) for pair in pairs])
        sent += pairs
        if len(pairs) < limit or time.monotonic() >= deadline:
            return sent


def priority(stream: str, urgent: set[str]) -> int:
    """The broker priority of ``stream``'s sync: the order path's kinds (``urgent``, their
    names) go ahead of the rest, so a new seller's dozens of report and money runs never
    queue in front of an order."""
    return enqueue.priority(stream.partition(":")[0] in urgent)
