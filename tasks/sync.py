"""``spsync.sync_stream``: one incremental sync of one (seller, stream)."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from tasks.base import spsync_task
from worker.ratelimit.backoff import Backoff
from worker.runtime import get_runtime
from worker.spapi.errors import LwaCoolingDown, QuotaWaitTooLong, RetriableError
from worker.sync.service import run_stream

# A unit that failed after the client's own retries comes back later, spread out.
UNIT_BACKOFF = Backoff(base=30.0, cap=600.0, max_retries=5)


@spsync_task(
    "spsync.sync_stream",
    # Waiting for quota, or for LWA's shared cool-down after failed refreshes, must not hold
    # a worker slot hostage (nor use up a retry): come back when it ends.
    defer_on=(QuotaWaitTooLong, LwaCoolingDown),
    # The client already retried with backoff (or the database went away mid-run: the page
    # in flight rolled back); try the whole unit again later, from the last checkpoint,
    # instead of waiting for the dispatcher's claim to expire. After max_retries Celery
    # gives up; the failure is recorded in sync_runs when it can be.
    retry_on=(RetriableError, OperationalError),
    backoff=UNIT_BACKOFF,
)
async def sync_stream(seller_id: int, stream: str) -> str:
    return (await run_stream(get_runtime(), int(seller_id), str(stream))).status
