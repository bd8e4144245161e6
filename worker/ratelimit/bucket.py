"""Distributed token buckets shared by every spsync process (one Lua script in Redis).

A bucket is named ``rl:{<seller>:<region>}:<operation>`` (:func:`bucket_key`) and lives in
the field ``<operation>`` of the hash ``rl:{<seller>:<region>}``: one Redis key per seller
and region, whose ``{...}`` hash tag keeps it whole on one Redis Cluster shard. Time comes
from Redis ``TIME``, never from a caller's clock. A caller reserves a token and is told how
long to wait for it (no polling); callers are served in arrival order across processes.
Backfills share a seller's bucket with incremental syncs but get at most ``share`` of it
while an incremental sync is active. A bucket missing on a restarted Redis starts as
possibly emptied at Amazon (``restarts.py``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from importlib import resources
from typing import Any, TypeVar

import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from worker.ratelimit.restarts import MARK_KEY, MARK_SECONDS, ServerMemory, memory_for
from worker.redis_clients import CLUSTER_DOWN
from worker.spapi.errors import QuotaWaitTooLong

log = structlog.get_logger(__name__)
T = TypeVar("T")

# reserve, and drain after a 429 (Amazon's bucket is empty now: so is ours)
_SCRIPT = resources.files("worker.ratelimit").joinpath("bucket.lua").read_text(encoding="utf-8")
_REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError, *CLUSTER_DOWN)


class Priority(StrEnum):
    INCREMENTAL = "incremental"
    BACKFILL = "backfill"


def bucket_key(seller: str, region: str, operation: str) -> str:
    """A bucket's name: ``rl:{<seller>:<REGION>}:<operation>`` (see :func:`split_name`)."""
    return f"rl:{{{seller}:{region.upper()}}}:{operation}"


def split_name(name: str) -> tuple[str, str]:
    """(the Redis hash, its field) holding the bucket ``name``: the operation is the part
    after the hash tag's closing brace."""
    head, brace, tail = name.rpartition("}")
    if not brace or not tail.startswith(":") or len(tail) < 2:
        raise ValueError(f"not a bucket name: {name!r}")
    return head + brace, tail[1:]


def read_state(value: Any, rate: Any = None) -> dict[str, float]:
    """A bucket's field as ``bucket.lua`` writes it (``<tokens> <ts> <inc> [<bf> <bf_off>]``)
    and its learned rate, as numbers (``{}`` for a missing or unreadable bucket)."""
    parts = _text(value).split() if value is not None else []
    numbers = [_number(p) for p in parts]
    if len(numbers) < 3 or any(n is None for n in numbers):
        return {}
    tokens, ts, inc, *side = (float(n) for n in numbers if n is not None)
    state = {"tokens": tokens, "ts": ts, "inc_until": ts + inc}
    if len(side) == 2:
        state |= {"bf_tokens": side[0], "bf_ts": ts + side[1]}
    if (learned := _number(rate)) is not None:
        state["rate"] = learned
    return state


def fill_ratio(state: Mapping[Any, Any], *, now: float, default_rate: float,
               burst: float) -> float:
    """Share of a bucket in use at ``now`` (Redis ``TIME``): ``1 - tokens_now / burst``.

    ``state`` is a bucket as :func:`read_state` reads it (``tokens``, ``ts``, ``rate``: numbers, str
    or bytes); ``tokens_now`` refills it to ``now`` exactly as ``bucket.lua`` does. 0.0 is an
    idle, full bucket (also a missing one: a hash of idle, full buckets expires); above 1.0
    callers hold reservations (tokens below zero): 1.5 means half a burst of calls is queued.
    """
    if burst <= 0:
        raise ValueError(f"burst must be positive, not {burst}")
    fields = {(k.decode() if isinstance(k, bytes) else str(k)): v for k, v in state.items()}
    tokens, ts = _number(fields.get("tokens")), _number(fields.get("ts"))
    if tokens is None or ts is None:
        return 0.0
    rate = _number(fields.get("rate")) or default_rate
    tokens_now = min(burst, tokens + max(0.0, now - ts) * rate)
    return max(0.0, 1.0 - tokens_now / burst)


def _text(raw: Any) -> str:
    return raw.decode() if isinstance(raw, bytes) else str(raw)


def _number(raw: Any) -> float | None:
    if raw is None:
        return None
    try:
        return float(raw.decode() if isinstance(raw, bytes) else raw)
    except ValueError:
        return None


@dataclass(frozen=True)
class Reservation:
    reserved: bool
    wait: float  # seconds until the token is ours (or would be, when not reserved)
    tokens: float  # tokens left in the bucket after this call (negative: callers queued)
    reason: str  # "ok", "wait" (longer than max_wait) or "share" (backfill held back)


class TokenBucket:
    """Reserve tokens from Redis; ``redis`` is a ``redis.asyncio.Redis``.

    ``memory`` is what the process knows about the server (default: the process's own, shared
    by every bucket on that server: a bucket lives for one task, the memory for the process).
    """

    def __init__(self, redis: Any, *, share: float = 0.5, redis_patience: float = 30.0,
                 memory: ServerMemory | None = None) -> None:
        self._redis = redis
        self._script = redis.register_script(_SCRIPT)
        self._share = share
        self._patience = redis_patience
        self._memory = memory if memory is not None else memory_for(redis)

    async def reserve(
        self, key: str, rate: float, burst: int, max_wait: float,
        priority: Priority = Priority.INCREMENTAL, *, spare: bool = True,
        now: float | None = None, server: tuple[str, float] | None = None,
    ) -> Reservation:
        """One atomic reservation attempt. ``spare``: Amazon's bucket holds a token beyond
        ``burst`` (``usable_burst``); without it, a bucket lost in a Redis restart comes back
        with no free call (``bucket.lua``). ``now`` and ``server`` (run_id, uptime) stand in
        for Redis TIME and INFO in tests of the arithmetic only."""
        args = [rate, burst, max_wait, str(priority), self._share, "" if now is None else now]
        fixed = "" if server is None else f"{server[0]} {server[1]}"
        reserved, wait, tokens, reason, run_id = await self._run(key, args, fixed, spare)
        await self._mark_restart(key, _text(run_id))
        return Reservation(bool(int(reserved)), float(wait), float(tokens), _text(reason))

    async def acquire(
        self, key: str, rate: float, burst: int, max_wait: float,
        priority: Priority = Priority.INCREMENTAL, *, spare: bool = True,
    ) -> Reservation:
        """Take a token, sleeping at most ``max_wait`` in all; return the final reservation
        with ``wait`` = total time slept.

        Raises :class:`QuotaWaitTooLong` (reserving nothing) when the wait would be longer.
        """
        slept = 0.0
        while True:
            res = await self.reserve(key, rate, burst, max_wait - slept, priority, spare=spare)
            if res.reserved:
                if res.wait > 0:
                    await asyncio.sleep(res.wait)
                return Reservation(True, slept + res.wait, res.tokens, res.reason)
            if res.reason != "share" or slept + res.wait > max_wait:
                raise QuotaWaitTooLong(key, slept + res.wait)
            await asyncio.sleep(res.wait)  # the backfill's share frees up then; ask again
            slept += res.wait

    async def set_rate(self, key: str, rate: float) -> None:
        """Adopt the server's ``x-amzn-RateLimit-Limit`` for this bucket (best effort)."""
        if rate > 0:
            hash_key, field = split_name(key)
            await self._best_effort(
                key, self._script(keys=[hash_key], args=["rate", field, repr(rate)]))

    async def drain(self, key: str, burst: int | None = None,
                    rate: float | None = None) -> None:
        """A 429 despite the bucket: the server's bucket is empty, so ours must be too.

        Reservations already handed out are kept: wiping them would schedule the next
        callers on top of the ones still waiting, and the burst of 429s would feed itself.
        The hash then lives until the bucket has refilled to ``burst`` at its learned rate,
        else ``rate`` (either unknown: an hour).
        """
        hash_key, field = split_name(key)
        args = ["drain", field, "" if rate is None else rate, "" if burst is None else burst]
        await self._best_effort(key, self._script(keys=[hash_key], args=args))

    async def _mark_restart(self, key: str, run_id: str) -> None:
        """This bucket was created on a server that replaced the one the process started
        with: leave a mark, so processes started from now on know too (``restarts.py``)."""
        if self._memory.restart_to_mark(run_id):
            log.info("quota.redis_restarted", key=key)
            await self._best_effort(key, self._redis.set(MARK_KEY, run_id, ex=MARK_SECONDS))

    async def _best_effort(self, key: str, command: Any) -> None:
        # Only makes later reservations more accurate; the next reserve waits Redis out.
        try:
            await command
        except _REDIS_DOWN as exc:
            log.warning("quota.redis_unavailable", key=key, error=type(exc).__name__)

    async def state(self, key: str) -> dict[str, float]:
        """The bucket ``key`` as numbers (:func:`read_state`)."""
        hash_key, field = split_name(key)
        return read_state(*await self._redis.hmget(hash_key, field, f"{field}:rate"))

    async def _run(self, key: str, args: list[Any], fixed_server: str, spare: bool) -> Any:
        """Run the script; while Redis is unreachable, wait and retry (never skip the bucket)."""

        hash_key, field = split_name(key)

        async def once() -> Any:
            first = await self._memory.learn(self._redis)  # once per process and server
            return await self._script(
                keys=[hash_key],
                args=["reserve", field, *args, first, fixed_server, "1" if spare else "0"])

        return await self.while_redis_is_down(key, once)

    async def while_redis_is_down(self, key: str, command: Callable[[], Awaitable[T]]) -> T:
        """``command()``, tried again while Redis is unreachable (up to the patience).

        Also for the other Redis state a call needs first (the shared LWA token)."""
        delay, waited = 0.1, 0.0
        while True:
            try:
                return await command()
            except _REDIS_DOWN as exc:
                if waited >= self._patience:
                    raise
                log.warning("quota.redis_unavailable", key=key, error=type(exc).__name__,
                            retry_in_s=delay)
                await asyncio.sleep(delay)
                waited += delay
                delay = min(delay * 2, 2.0)
