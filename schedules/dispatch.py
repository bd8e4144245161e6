"""``spsync.dispatch_due``: enqueue a sync for every due (seller, stream)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from worker.app import app
from worker.db.state import claim_due
from worker.runtime import get_runtime

BATCH = 500


def dispatch_due(now: datetime | None = None, seller_id: int | None = None,
                 ) -> list[tuple[int, str]]:
    """Claim due pairs (SKIP LOCKED) and enqueue them after the claim committed.

    ``seller_id``: only that seller's (e.g. its first sync, right after onboarding).
    """
    rt = get_runtime()
    hold = timedelta(seconds=rt.settings.dispatch_claim_seconds)
    with rt.engine.begin() as conn:
        pairs = claim_due(conn, now or datetime.now(UTC), limit=BATCH, hold=hold,
                          regions=rt.settings.regions, seller_id=seller_id)
    from tasks.sync import sync_stream

    for seller_id, stream in pairs:
        sync_stream.delay(seller_id, stream)
    return pairs


@app.task(name="spsync.dispatch_due", ignore_result=True)
def dispatch_due_task(**_: Any) -> int:
    return len(dispatch_due())
