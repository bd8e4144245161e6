"""``spsync.process_notification`` (one inbox row, enqueued by the consumer) and
``spsync.process_inbox`` (the periodic sweep of pending rows)."""

from __future__ import annotations

from typing import Any

from tasks.base import spsync_task
from worker.notifications.process import process_one, process_pending
from worker.runtime import get_runtime


@spsync_task("spsync.process_notification")
async def process_notification(inbox_id: int) -> str:
    return await process_one(get_runtime(), int(inbox_id))


@spsync_task("spsync.process_inbox")
async def process_inbox(**_: Any) -> int:
    return await process_pending(get_runtime())
