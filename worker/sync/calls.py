"""``sync_runs.api_calls`` counted as each request leaves, so a killed worker's calls count.

The run row takes the client's own count with each committed page and when the run ends. What
a worker sends after its last commit (the page in flight, its retries, a 429) would die with
it, so every request of a run is also counted in Redis as it leaves
(``spsync:run_calls:<run id>``: INCR and EXPIRE in one pipelined round trip, ~0.15 ms, sent
beside the request so it never holds one back after its quota slot; an UPDATE of the row per
call would cost ~0.5 ms and a Postgres commit each). The next holder of the stream's lock,
which marks the dead worker's run ``WorkerLost``, copies that counter into its row
(:func:`settle`); a run that ends normally drops it (:func:`forget`). The counter is best
effort: if Redis lost it, the row keeps the count of its committed pages.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import Connection

from worker.db import state
from worker.redis_clients import mget

KEY = "spsync:run_calls:"
TTL_SECONDS = 24 * 3600  # a dead worker's run is reaped by its stream's next run, long before


def key(run_id: int) -> str:
    return f"{KEY}{run_id}"


class RunCalls:
    """The client's ``on_send`` hook for one run: one more request is about to leave."""

    def __init__(self, aio_redis: Any, run_id: int) -> None:
        self._redis = aio_redis
        self._key = key(run_id)

    async def __call__(self) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(self._key)
        pipe.expire(self._key, TTL_SECONDS)
        with suppress(RedisError, OSError):  # counting never fails a call
            await pipe.execute()


def settle(conn: Connection, r: Any, run_ids: list[int]) -> None:
    """Copy the counters of runs a dead worker left into their rows, then drop them."""
    keys = [key(i) for i in run_ids]
    with suppress(RedisError, OSError):
        counts = mget(r, keys)
        with conn.begin():
            for run_id, count in zip(run_ids, counts, strict=True):
                if count is not None:
                    state.count_calls(conn, run_id, int(count))
        r.delete(*keys)


def forget(r: Any, run_id: int) -> None:
    """Drop the counter of a run whose row holds its final count."""
    with suppress(RedisError, OSError):
        r.delete(key(run_id))
