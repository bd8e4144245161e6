"""``spsync.process_notification`` (one inbox row, enqueued by the consumer) and
``spsync.process_inbox`` (the periodic sweep of pending rows)."""

from __future__ import annotations

import asyncio
from typing import Any

from worker.app import app
from worker.notifications.process import process_one, process_pending
from worker.runtime import get_runtime


@app.task(name="spsync.process_notification", acks_late=True, ignore_result=True)
def process_notification(inbox_id: int) -> str:
    return asyncio.run(process_one(get_runtime(), int(inbox_id)))


@app.task(name="spsync.process_inbox", acks_late=True, ignore_result=True)
def process_inbox(**_: Any) -> int:
    return asyncio.run(process_pending(get_runtime()))
