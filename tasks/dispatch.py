"""``spsync.dispatch_due``: beat's tick (``schedules/beat.py``), enqueueing a sync for every
due (seller, stream) (the dispatcher itself is ``worker/sync/dispatch.py``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tasks.base import spsync_task
from worker.runtime import get_runtime
from worker.sync.dispatch import dispatch


def dispatch_due(now: datetime | None = None, seller_id: int | None = None,
                 ) -> list[tuple[int, str]]:
    """:func:`dispatch` with the process's runtime, at ``now`` (default: the clock)."""
    return dispatch(get_runtime(), now or datetime.now(UTC), seller_id=seller_id)


@spsync_task("spsync.dispatch_due")
def dispatch_due_task(**_: Any) -> int:
    return len(dispatch_due())
