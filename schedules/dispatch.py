"""``spsync.dispatch_due``: beat's tick, enqueueing a sync for every due (seller, stream)
(the dispatcher itself is ``worker/sync/dispatch.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from worker.app import app
from worker.runtime import get_runtime
from worker.sync.dispatch import dispatch


def dispatch_due(now: datetime | None = None, seller_id: int | None = None,
                 ) -> list[tuple[int, str]]:
    """:func:`dispatch` with the process's runtime, at ``now`` (default: the clock)."""
    return dispatch(get_runtime(), now or datetime.now(UTC), seller_id=seller_id)


@app.task(name="spsync.dispatch_due", ignore_result=True)
def dispatch_due_task(**_: Any) -> int:
    return len(dispatch_due())
