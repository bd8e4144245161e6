"""``spsync.process_outbox``: one sweep of the outbox (reconcile, poll, send).

No Celery retry: a sweep that fails leaves every row in a state the next sweep (beat,
every dispatch interval) picks up, and a re-delivered sweep never resends a command (see
``worker.outbox``).
"""

from __future__ import annotations

from typing import Any

from tasks.base import spsync_task
from worker.outbox.run import process_due
from worker.runtime import get_runtime


@spsync_task("spsync.process_outbox")
async def process_outbox(**_: Any) -> int:
    return (await process_due(get_runtime())).total
