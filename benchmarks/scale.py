"""Many sellers: what one dispatcher tick costs, and what a seller costs in Redis and Postgres.

Usage::

    python -m benchmarks.scale --sellers 10000        # full size (~40 s on 2 cores)
    python -m benchmarks.scale --sellers 500 --ticks 3  # smoke check

What runs, all on loopback: a freshly migrated scratch database, the benchmark Redis (which is
also the Celery broker, as in production), and this process. No worker runs: nothing consumes
the enqueued tasks.

1. **Registration**: ``--sellers`` N sellers, each in one region with 1-3 of its marketplaces
   (seeded random), written in bulk through SQLAlchemy core into ``sellers`` (refresh token
   encrypted by the keyring, as ``upsert_seller`` does) and ``sync_state`` (one row per stream
   of ``streams_for``: orders + inventory and listings per marketplace, so 3, 5 or 7 rows, 5
   on average). Then ``ANALYZE``, as autovacuum would do soon after such a load.
2. **Ticks**: staggered schedules, as after a while of running: each row's ``due_at`` is a
   random moment of its own stream's interval (orders 300 s, inventory and listings 900 s),
   so a tick of T seconds (the dispatch interval, 5 s) finds about
   N * (1/300 + 2m/900) * T newly due rows, m the marketplaces per seller (2 on average):
   ~390 for 10,000 sellers (``steady_due_per_tick``, computed from the registered streams).
   Tick k (1..``--ticks``) runs the real ``worker.sync.dispatch.dispatch`` at
   ``now = t0 + k * T`` (what beat's ``spsync.dispatch_due`` runs): ``claim_due`` batch after
   batch (``--batch``, default its ``BATCH``), each committed and then sent as
   ``spsync.sync_stream`` (by name) through the real Celery app to the broker, until nothing
   is due.
   The queue is counted (``LLEN`` of each priority step's list) and emptied between ticks.
   A claimed row is held 300 s (``dispatch_claim_seconds``), longer than the ticks last, so
   no row comes due twice.
3. **Redis per seller**: ``INFO memory`` ``used_memory`` before and after creating, for
   every seller, one bucket per operation its sync streams use (the fields of the seller's
   one bucket hash, ``worker/ratelimit/bucket.py``), through the real
   script (``TokenBucket.reserve``, one reservation each: searchOrders,
   getInventorySummaries, searchListingsItems for an Orders 2026-01-01 seller), and its LWA
   access-token cache entry, written by the real ``LwaTokenProvider`` after a grant from a
   stub LWA endpoint in this process (encrypted, as every cached access token is). Amazon
   does not document an access token's length; the stub's tokens are
   ``--access-token-chars`` long (default 400, ``Atza|`` included). The delta is taken with
   our async connections closed (a client connection costs Redis ~20 KB of its own) and
   divided by N: ``redis_bytes_per_seller``. ``used_memory`` is server-wide, so other users
   of the server add noise; ``redis_key_bytes_per_seller`` is the sum of ``MEMORY USAGE``
   over the keys themselves, which they cannot disturb (``redis_key_bytes_by_kind``: the
   mean per key of each kind, ``rl`` buckets and ``lwa`` tokens). An idle, full bucket
   expires (the script sets a TTL), so this is the footprint of N sellers all syncing at
   once, the worst case. With ``--cluster`` the buckets and tokens go to a Redis Cluster of
   the run's own (three masters, each with a replica; ``devtools/redis_cluster.py``) and
   ``used_memory`` is summed over its masters (each replica holds as much again); the
   benchmark Redis stays the broker, as a cluster cannot be Celery's.
4. **Postgres**: ``pg_total_relation_size`` of ``sync_state`` (heap, indexes, TOAST) right
   after registration, before any tick rewrote rows.

Figures: ``tick_p50_s`` / ``tick_max_s`` = wall time of one ``dispatch`` (claims + enqueues)
over the ticks (``ticks_s`` lists them; the first also opens the broker connection);
``ms_per_pair`` = all ticks' time over all pairs claimed (what one due stream costs the
dispatcher, ~all of it Celery's publish); ``enqueued_per_tick`` = median queue length after a
tick; ``due_first_tick`` / ``due_last_tick`` = rows due when the first and last tick ran (a
growing figure would mean the dispatcher falls behind). ``--explain`` also prints the
first tick's claim statement under ``EXPLAIN ANALYZE`` to stderr. Prints one JSON line;
asserts nothing about time. Targets (issues 8 and 20, the latter at 100,000 sellers on a
cluster): tick <= 1 s with no backlog, Redis <= 2 KB per seller.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import secrets
import statistics
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import redis
from aiohttp import web
from pydantic import SecretStr
from sqlalchemy import Engine, func, insert, select, text

from benchmarks.services import bench_redis, log, quiet, scratch_databases
from worker.broker import queue_keys
from worker.config import Settings
from worker.crypto import new_key_spec
from worker.db.models import Seller, SyncState
from worker.db.sellers import SellerRecord
from worker.redis_clients import async_client, client_is_cluster
from worker.runtime import Runtime
from worker.spapi.regions import MARKETPLACES
from worker.sync.catalog import interval_of, plan, streams_for

QUEUE = "spsync"  # the Celery queue sync_stream is routed to (worker/app.py)
CHUNK = 1000


@dataclass(frozen=True)
class Registered:
    sellers: list[SellerRecord]
    rows: int


def _regions_markets() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for mid, (region, _, _) in MARKETPLACES.items():
        out.setdefault(region, []).append(mid)
    return out


def _seller_rows(rt: Runtime, n: int, rng: random.Random) -> list[dict[str, Any]]:
    markets = _regions_markets()
    rows = []
    for i in range(n):
        region = rng.choice(sorted(markets))
        spid = f"ASCALE{i:08d}"
        blob, kid = rt.keyring.encrypt(f"Atzr|{secrets.token_urlsafe(300)}", aad=spid)
        rows.append({"selling_partner_id": spid, "region": region,
                     "marketplace_ids": rng.sample(markets[region], rng.randint(1, 3)),
                     "refresh_token_enc": blob, "refresh_token_kid": kid})
    return rows


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def register(rt: Runtime, n: int, t0: datetime, seed: int) -> Registered:
    """N sellers and their streams, each ``due_at`` at random within its stream's interval."""
    rng = random.Random(seed)
    rows = _seller_rows(rt, n, rng)
    records: list[SellerRecord] = []
    with rt.engine.begin() as conn:
        for chunk in _chunks(rows, CHUNK):
            ids = conn.execute(insert(Seller).returning(Seller.id, sort_by_parameter_order=True),
                               chunk).scalars().all()
            records += [SellerRecord(int(i), r["selling_partner_id"], r["region"],
                                     r["marketplace_ids"], "2026-01-01", True, None)
                        for i, r in zip(ids, chunk, strict=True)]
        # Staggered: each stream next due at a random moment of its own interval, as after
        # a while of running (each comes due again one interval after its last sync).
        states = [{"seller_id": s.id, "stream": stream, "due_at": t0 + timedelta(
                       seconds=rng.uniform(0, interval_of(rt.settings, stream).total_seconds()))}
                  for s in records for stream in streams_for(s.marketplace_ids)]
        for chunk in _chunks(states, 5 * CHUNK):
            conn.execute(insert(SyncState), chunk)
    with rt.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("ANALYZE sellers"))
        conn.execute(text("ANALYZE sync_state"))
    return Registered(records, len(states))


def steady_due_per_tick(settings: Settings, sellers: list[SellerRecord]) -> float:
    """Rows a tick finds once every stream runs at its own interval."""
    per_s = sum(1 / interval_of(settings, stream).total_seconds()
                for s in sellers for stream in streams_for(s.marketplace_ids))
    return per_s * settings.dispatch_interval_seconds


# --- ticks ----------------------------------------------------------------------------------


def _due(engine: Engine, now: datetime) -> int:
    with engine.begin() as conn:
        return int(conn.execute(select(func.count()).select_from(SyncState)
                                .where(SyncState.due_at <= now)).scalar_one())


def _tick(rt: Runtime, now: datetime, batch: int) -> tuple[float, int]:
    """One ``dispatch`` (what ``spsync.dispatch_due`` runs): (seconds, pairs)."""
    from worker.sync.dispatch import dispatch

    started = time.perf_counter()
    pairs = dispatch(rt, now, batch=batch)
    return time.perf_counter() - started, len(pairs)


def run_ticks(rt: Runtime, t0: datetime, ticks: int, batch: int) -> dict[str, Any]:
    r = redis.Redis.from_url(rt.broker_url)  # the queue is in the broker
    every = timedelta(seconds=rt.settings.dispatch_interval_seconds)
    took, queued, due = [], [], []
    for k in range(1, ticks + 1):
        now = t0 + k * every
        due.append(_due(rt.engine, now))
        seconds, pairs = _tick(rt, now, batch)
        took.append(seconds)
        lists = queue_keys(QUEUE)  # one list per priority step: urgent and bulk syncs
        queued.append(sum(int(r.llen(key)) for key in lists))
        r.delete(*lists)
        log(f"tick {k}: {due[-1]} due, {pairs} claimed, {queued[-1]} queued, {seconds:.3f}s")
    return {
        "tick_p50_s": round(statistics.median(took), 3), "tick_max_s": round(max(took), 3),
        "ms_per_pair": round(1000 * sum(took) / max(1, sum(queued)), 3),
        "enqueued_per_tick": int(statistics.median(queued)),
        "due_first_tick": due[0], "due_last_tick": due[-1],
        "ticks_s": [round(t, 3) for t in took],
    }


# --- Redis per seller -----------------------------------------------------------------------


@asynccontextmanager
async def _stub_lwa(token_chars: int) -> Any:
    """A loopback LWA token endpoint answering every refresh grant with a fresh token."""

    async def grant(_: web.Request) -> web.Response:
        token = ("Atza|IwEB" + secrets.token_urlsafe(token_chars))[:token_chars]
        return web.json_response({"access_token": token, "token_type": "bearer",
                                  "expires_in": 3600})

    app = web.Application()
    app.router.add_post("/auth/o2/token", grant)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/auth/o2/token"
    finally:
        await runner.cleanup()


def operations_of(settings: Settings, seller: SellerRecord) -> set[str]:
    """The SP-API operations (so the buckets) a seller's sync streams call."""
    return {plan(settings, seller, s).operation for s in streams_for(seller.marketplace_ids)}


async def _populate(rt: Runtime, sellers: list[SellerRecord], token_chars: int) -> None:
    from worker.ratelimit.bucket import TokenBucket, bucket_key
    from worker.spapi.auth import LwaApp, LwaTokenProvider
    from worker.spapi.client import usable_burst
    from worker.spapi.operations import operation

    limit = asyncio.Semaphore(32)
    aio = async_client(rt.services.redis_url, max_connections=40)
    async with _stub_lwa(token_chars) as url, aiohttp.ClientSession() as session:
        lwa = LwaTokenProvider(session, aio, LwaApp("bench", "bench", url), keyring=rt.keyring)
        bucket = TokenBucket(aio)

        async def one(s: SellerRecord) -> None:
            async with limit:
                await lwa.access_token(s.selling_partner_id, "Atzr|bench")
                for name in sorted(operations_of(rt.settings, s)):
                    op = operation(name)
                    await bucket.reserve(bucket_key(s.selling_partner_id, s.region, name),
                                         op.rate, usable_burst(op.burst), max_wait=3600.0)

        try:
            await asyncio.gather(*(one(s) for s in sellers))
        finally:
            await aio.aclose()


def _used_memory(r: Any) -> int:
    """``used_memory`` of the server, or summed over a cluster's masters (the data once;
    each replica holds as much again)."""
    if client_is_cluster(r):
        per_node = r.info("memory", target_nodes=r.PRIMARIES)
        return sum(int(info["used_memory"]) for info in per_node.values())
    return int(r.info("memory")["used_memory"])


def _flush(r: Any) -> None:
    if client_is_cluster(r):
        r.flushdb(target_nodes=r.PRIMARIES)
    else:
        r.flushdb()


def _key_bytes(r: Any) -> dict[str, list[int]]:
    """``MEMORY USAGE`` of every key, by kind (``rl`` buckets, ``lwa`` tokens, ...)."""
    keys = list(r.scan_iter(count=1000))
    pipe = r.pipeline(transaction=False)
    for key in keys:
        pipe.memory_usage(key, samples=0)
    kinds: dict[str, list[int]] = {}
    for key, size in zip(keys, pipe.execute(), strict=True):
        kinds.setdefault(key.decode().split(":", 1)[0], []).append(int(size or 0))
    return kinds


def redis_per_seller(rt: Runtime, sellers: list[SellerRecord],
                     token_chars: int) -> dict[str, Any]:
    r = rt.redis()
    _flush(r)
    # Load both Lua scripts (server-wide, once) before the baseline: not a per-seller cost.
    asyncio.run(_populate(rt, sellers[:1], token_chars))
    _flush(r)
    before = _used_memory(r)
    started = time.monotonic()
    asyncio.run(_populate(rt, sellers, token_chars))
    took = time.monotonic() - started
    after = _used_memory(r)
    kinds = _key_bytes(r)
    keys = sum(len(v) for v in kinds.values())
    expected = 2 * len(sellers)  # a seller's bucket hash and its cached token
    if keys < expected:
        log(f"populating took {took:.0f}s: {expected - keys} keys expired meanwhile (a bucket "
            "hash lives until its longest-lived bucket has refilled): the figure is low")
    log(f"redis: {keys} keys for {len(sellers)} sellers in {took:.1f}s; used_memory "
        f"{before} -> {after}")
    return {"redis_bytes_per_seller": round((after - before) / len(sellers)),
            "redis_key_bytes_per_seller": round(sum(map(sum, kinds.values())) / len(sellers)),
            "redis_keys_per_seller": round(keys / len(sellers), 2),
            "redis_key_bytes_by_kind": {k: round(statistics.mean(v)) for k, v in kinds.items()}}


def postgres_sizes(engine: Engine) -> dict[str, int]:
    with engine.begin() as conn:
        state, sellers = conn.execute(text(
            "SELECT pg_total_relation_size('sync_state'), pg_total_relation_size('sellers')"
        )).one()
    return {"postgres_sync_state_bytes": int(state), "postgres_sellers_bytes": int(sellers)}


def explain_claim(rt: Runtime, now: datetime, batch: int) -> str:
    """EXPLAIN ANALYZE of the claim statement as ``claim_due`` runs it (rolled back)."""
    from worker.db.state import claim_statement

    hold = timedelta(seconds=rt.settings.dispatch_claim_seconds)
    stmt = claim_statement(now, limit=batch, hold=hold, regions=rt.settings.regions)
    compiled = stmt.compile(rt.engine, compile_kwargs={"literal_binds": True})
    with rt.engine.connect() as conn, conn.begin() as tx:
        plan_rows = conn.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}")).scalars().all()
        tx.rollback()
    return "\n".join(plan_rows)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sellers", type=int, default=10000)
    ap.add_argument("--ticks", type=int, default=10)
    ap.add_argument("--batch", type=int, default=None,
                    help="pairs claimed per tick (default: worker.sync.dispatch.BATCH)")
    ap.add_argument("--access-token-chars", type=int, default=400)
    ap.add_argument("--explain", action="store_true",
                    help="print EXPLAIN ANALYZE of the first tick's claim to stderr")
    ap.add_argument("--seed", type=int, default=8)
    ap.add_argument("--cluster", action="store_true",
                    help="buckets and token cache on a Redis Cluster of the run's own (three "
                         "masters, three replicas); the benchmark Redis stays the broker")
    args = ap.parse_args(argv)
    if args.sellers < 1 or args.ticks < 1:
        ap.error("--sellers and --ticks must be at least 1")
    quiet()
    with bench_redis() as (redis_url, kind), scratch_databases(1) as (db,), \
            _cluster(args.cluster) as cluster_url:
        # The Celery app (this process enqueues) takes its broker from the environment.
        os.environ.update(REDIS_URL=cluster_url or redis_url, DATABASE_URL=db,
                          SPSYNC_BROKER_URL=redis_url)
        redis_kind = "cluster: 3 masters, 3 replicas" if cluster_url else kind
        print(json.dumps(_run(args, db, cluster_url or redis_url, redis_url)
                         | {"redis": redis_kind}))


@contextmanager
def _cluster(wanted: bool) -> Iterator[str | None]:
    if not wanted:
        yield None
        return
    from devtools.redis_cluster import Cluster

    with Cluster() as cluster:
        yield cluster.url


def _run(args: Any, db: str, redis_url: str, broker_url: str) -> dict[str, Any]:
    from worker.sync.dispatch import BATCH

    batch = args.batch or BATCH
    rt = Runtime(Settings(database_url=db, redis_url=redis_url, broker_url=broker_url,
                          token_keys=SecretStr(new_key_spec("bench")), log_level="WARNING"))
    t0 = datetime.now(UTC).replace(microsecond=0)
    started = time.monotonic()
    reg = register(rt, args.sellers, t0, args.seed)
    log(f"registered {len(reg.sellers)} sellers, {reg.rows} sync_state rows in "
        f"{time.monotonic() - started:.1f}s")
    sizes = postgres_sizes(rt.engine)
    if args.explain:
        first = t0 + timedelta(seconds=rt.settings.dispatch_interval_seconds)
        log(explain_claim(rt, first, batch))
    ticks = run_ticks(rt, t0, args.ticks, batch)
    memory = redis_per_seller(rt, reg.sellers, args.access_token_chars)
    return {
        "sellers": len(reg.sellers), "sync_state_rows": reg.rows,
        **{k: ticks[k] for k in ("tick_p50_s", "tick_max_s", "enqueued_per_tick")},
        "redis_bytes_per_seller": memory["redis_bytes_per_seller"],
        "postgres_sync_state_bytes": sizes["postgres_sync_state_bytes"],
        "ticks": args.ticks, "batch": batch,
        "tick_interval_s": rt.settings.dispatch_interval_seconds,
        "steady_due_per_tick": round(steady_due_per_tick(rt.settings, reg.sellers)),
        **{k: v for k, v in ticks.items()
           if k not in ("tick_p50_s", "tick_max_s", "enqueued_per_tick")},
        **{k: v for k, v in memory.items() if k != "redis_bytes_per_seller"},
        "postgres_sellers_bytes": sizes["postgres_sellers_bytes"],
        "access_token_chars": args.access_token_chars,
    }


if __name__ == "__main__":
    main()
