"""``spsync.process_outbox``: one sweep of the outbox (reconcile, poll, send).

No Celery retry: a sweep that fails leaves every row in a state the next sweep (beat,
every dispatch interval) picks up, and a re-delivered sweep never resends a command (see
``worker.outbox``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from worker.app import app
from worker.outbox.run import process_due
from worker.runtime import get_runtime


@app.task(name="spsync.process_outbox", acks_late=True, ignore_result=True)
def process_outbox(**_: Any) -> int:
    return asyncio.run(process_due(get_runtime())).total
