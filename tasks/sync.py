"""``spsync.sync_stream``: one incremental sync of one (seller, stream)."""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy.exc import OperationalError

from worker.app import app
from worker.ratelimit.backoff import Backoff
from worker.runtime import get_runtime
from worker.spapi.errors import QuotaWaitTooLong, RetriableError
from worker.sync.service import run_stream

# A unit that failed after the client's own retries comes back later, spread out.
UNIT_BACKOFF = Backoff(base=30.0, cap=600.0, max_retries=5)


@app.task(
    name="spsync.sync_stream",
    bind=True,
    acks_late=True,
    ignore_result=True,
    max_retries=UNIT_BACKOFF.max_retries,
)
def sync_stream(self: Any, seller_id: int, stream: str) -> str:
    try:
        return asyncio.run(run_stream(get_runtime(), int(seller_id), str(stream))).status
    except QuotaWaitTooLong as exc:
        # Waiting for quota must not hold a worker slot hostage: come back when it frees up.
        raise self.retry(countdown=exc.wait, max_retries=None) from None
    except (RetriableError, OperationalError) as exc:
        # The client already retried with backoff (or the database went away mid-run: the
        # page in flight rolled back); try the whole unit again later, from the last
        # checkpoint, instead of waiting for the dispatcher's claim to expire. After
        # max_retries Celery gives up; the failure is recorded in sync_runs when it can be.
        raise self.retry(exc=exc, countdown=UNIT_BACKOFF.delay(self.request.retries)) from None
