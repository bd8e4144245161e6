"""Redis killed under a running worker: the worker survives and no quota is exceeded.

Three sellers whose data keeps changing are synced by one ``celery worker`` (prefork, two
pool children, started as in production: gossip, mingle and heartbeat on) and a ``celery
beat``, against a Redis of the test's own, which is the broker, the quota buckets and the
LWA token cache at once. ``kills(rounds)`` times (11 in the full run, 2 in the bounded one)
at a random moment while a sync runs, Redis is SIGKILLed and, after a random pause, started
again empty on the same port; in half the rounds a pool child is SIGKILLed too, at a random
moment of the outage or just after it (the worker forks a new one). Then the data freezes.

Checked: the worker's main process and beat are alive at the end and the worker still
consumes (runs start after the mirror converged); the simulator, which enforces Amazon's
quotas, answered no 429; the mirror equals the truth, with no duplicate or orphaned row.

The same on a Redis Cluster: its masters SIGKILLed under two workers, their replicas take over.
"""

from __future__ import annotations

import contextlib
import random
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.chaos.conftest import converged, integrity_problems, register_orders_only, syncing_pids
from tests.chaos.record import record
from tests.conftest import Services, settings_for
from tests.e2e.procs import OwnRedis, env_for, start, start_celery, stop, wait
from tests.integration.helpers import table
from worker.ratelimit.bucket import bucket_key
from worker.runtime import Runtime

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

WORKER = ["worker", "-c", "2", "-Q", "spsync", "-l", "INFO"]  # deploy/'s, two children


def kills(rounds: int) -> int:
    """Redis kills for ``rounds``: the audit's 11 in the full run (20), 2 in CI's (3)."""
    return max(2, round(rounds * 11 / 20))


def _kill_a_child(worker: subprocess.Popen[bytes], rng: random.Random) -> bool:
    children = psutil.Process(worker.pid).children() if worker.poll() is None else []
    if not children:
        return False
    with contextlib.suppress(psutil.NoSuchProcess):
        rng.choice(children).kill()
    return True


def _outage(rd: OwnRedis, worker: subprocess.Popen[bytes], rng: random.Random) -> bool:
    """Redis down for a random while, back empty; maybe a pool child killed on the way.
    Whether a child was killed."""
    down = rng.uniform(0.1, 3.0)
    child_at = rng.uniform(0.0, down + 2.0) if rng.random() < 0.5 else None
    rd.kill()
    if child_at is not None and child_at < down:
        time.sleep(child_at)
        _kill_a_child(worker, rng)
        time.sleep(down - child_at)
    else:
        time.sleep(down)
    rd.start()
    if child_at is not None and child_at >= down:
        time.sleep(child_at - down)
        _kill_a_child(worker, rng)
    return child_at is not None


def _settle(rt: Runtime, sim: Any, ids: dict[str, int]) -> None:
    """The mirror catches up, and the worker still takes tasks after that: a run starts, and
    the runs cut short with their pool child are failed by their stream's next run."""
    wait(lambda: converged(rt, sim, ids), 120, "the mirror to equal the truth", every=1.0)
    settled = _now(rt)
    wait(lambda: _runs_since(rt, settled) > 0, 60, "a run started after that")
    wait(lambda: not _running_since_before(rt, settled), 60, "killed runs to be reaped")


def _fatal(log: Path) -> str:
    lines = log.read_text("utf-8", errors="replace").splitlines()
    return next((line[:300] for line in lines if "Unrecoverable error" in line),
                "the worker logged no unrecoverable error")


def _runs_since(rt: Runtime, moment: Any) -> int:
    return int(table(rt, "SELECT count(*) FROM sync_runs WHERE started_at > :m", m=moment)[0][0])


def _running_since_before(rt: Runtime, moment: Any) -> int:
    return int(table(rt, "SELECT count(*) FROM sync_runs WHERE status = 'running' "
                         "AND started_at <= :m", m=moment)[0][0])


def _now(rt: Runtime) -> Any:
    return table(rt, "SELECT now()")[0][0]


def test_redis_kills_under_a_running_worker_lose_no_worker_and_no_quota(
        start_sim, clean, own_redis, tmp_path, rounds, seed):
    rng = random.Random(seed)
    sim = start_sim(sellers=3, orders_per_seller=150, time_scale=200, seed=seed % 1000 + 1,
                    changes_per_minute=240)
    settings = settings_for(Services(clean.database_url, own_redis.url), sim,
                            orders_page_size=10, orders_max_window_hours=24 * 7)
    rt = Runtime(settings)
    ids = register_orders_only(rt, sim)
    env = env_for(settings, SPSYNC_ORDERS_INTERVAL_SECONDS="1")
    beat = start("beat", env, tmp_path / "beat.log")
    worker = start_celery(WORKER, env, tmp_path / "worker.log")
    started, child_kills = time.monotonic(), 0
    try:
        wait(lambda: _runs_since(rt, "-infinity") >= 3, 90, "the first syncs")
        for _ in range(kills(rounds)):
            time.sleep(rng.uniform(0.3, 3.0))
            with contextlib.suppress(AssertionError):  # a moment with a task running
                wait(lambda: syncing_pids(rt), 10, "a running sync", every=0.05)
            time.sleep(rng.uniform(0.0, 0.5))
            child_kills += _outage(own_redis, worker, rng)
        chaos_seconds = time.monotonic() - started
        sim.client.control(changes_per_minute=0)
        try:
            _settle(rt, sim, ids)
        except AssertionError as exc:  # a worker that stopped consuming says why in its log
            raise AssertionError(f"{exc}; {_fatal(tmp_path / 'worker.log')}") from None
        alive = {"worker": worker.poll() is None, "beat": beat.poll() is None}
    finally:
        stop([beat, worker])
    log = (tmp_path / "worker.log").read_text("utf-8", errors="replace")
    buckets = sim.client.stats()["buckets"]
    throttled = sum(int(b["throttled"]) for b in buckets)
    figures = {
        "seed": seed, "rounds": rounds, "redis_kills": kills(rounds), "child_kills": child_kills,
        "broker_reconnects": log.count("Connection to broker lost"),
        "runs": _runs_since(rt, "-infinity"), "api_calls": sum(int(b["calls"]) for b in buckets),
        "throttled": throttled, "chaos_seconds": round(chaos_seconds, 1),
    }
    print(f"\nredis kills: {figures}")
    assert alive == {"worker": True, "beat": True}, _fatal(tmp_path / "worker.log")
    assert throttled == 0, [b for b in buckets if b["throttled"]]
    problems = integrity_problems(rt)
    problems.pop("runs still running")  # those the test's own stop cut short
    assert not any(problems.values()), problems
    record("Redis kills", injected=f"{kills(rounds)} SIGKILLs of Redis (back empty on the same "
                                   f"port) and {child_kills} of pool children at random moments "
                                   "of a 3-seller sync by a running worker and beat",
           checked="worker and beat alive and consuming at the end; no call over any quota "
                   "(simulator 429 count); mirror = truth; no duplicate/orphan rows",
           result="pass", figures=figures)


def test_redis_cluster_masters_killed_under_two_workers_lose_no_quota(
        start_sim, clean, redis_cluster, tmp_path, seed):
    """The buckets, the LWA token cache and the counters on a Redis Cluster (three masters,
    three replicas; the broker is the machine's Redis), two workers syncing three sellers.
    Twice, while a sync runs, the master holding a seller's buckets is SIGKILLed; its
    replica takes over and the killed node comes back empty as the new master's replica.

    Checked: no call over any quota (the simulator's 429 count), both workers alive, the
    mirror equals the truth with no duplicate or orphaned row."""
    rng = random.Random(seed)
    sim = start_sim(sellers=3, orders_per_seller=120, time_scale=200, seed=seed % 1000 + 1,
                    changes_per_minute=240)
    settings = settings_for(Services(clean.database_url, redis_cluster.url), sim,
                            broker_url=clean.redis_url, orders_page_size=10,
                            orders_max_window_hours=24 * 7)
    rt = Runtime(settings)
    ids = register_orders_only(rt, sim)
    sellers = sim.world()["sellers"]
    env = env_for(settings, SPSYNC_ORDERS_INTERVAL_SECONDS="1")
    beat = start("beat", env, tmp_path / "beat.log")
    workers = [start_celery([*WORKER, "-n", f"w{n}@%h"], env, tmp_path / f"worker{n}.log")
               for n in (1, 2)]
    failovers: list[float] = []
    try:
        wait(lambda: _runs_since(rt, "-infinity") >= 3, 90, "the first syncs")
        for _ in range(2):
            time.sleep(rng.uniform(0.3, 2.0))
            with contextlib.suppress(AssertionError):  # a moment with a task running
                wait(lambda: syncing_pids(rt), 10, "a running sync", every=0.05)
            seller = rng.choice(sellers)
            victim = redis_cluster.master_of(bucket_key(
                seller["selling_partner_id"], seller["region"], "searchOrders"))
            redis_cluster.kill(victim)
            killed = time.monotonic()
            redis_cluster.wait_ok(masters=3)
            failovers.append(round(time.monotonic() - killed, 1))
            redis_cluster.restart(victim)  # back as a replica of the node that took over
            redis_cluster.wait_ok(masters=3)
        sim.client.control(changes_per_minute=0)
        try:
            _settle(rt, sim, ids)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; {_fatal(tmp_path / 'worker1.log')}") from None
        alive = [w.poll() is None for w in [beat, *workers]]
    finally:
        stop([beat, *workers])
    buckets = sim.client.stats()["buckets"]
    throttled = sum(int(b["throttled"]) for b in buckets)
    figures = {"seed": seed, "master_kills": 2, "failover_seconds": failovers,
               "runs": _runs_since(rt, "-infinity"),
               "api_calls": sum(int(b["calls"]) for b in buckets), "throttled": throttled}
    print(f"\nredis cluster kills: {figures}")
    assert alive == [True, True, True], _fatal(tmp_path / "worker1.log")
    assert throttled == 0, [b for b in buckets if b["throttled"]]
    problems = integrity_problems(rt)
    problems.pop("runs still running")
    assert not any(problems.values()), problems
    record("Redis Cluster master kills",
           injected="2 SIGKILLs of the Redis Cluster master holding a seller's buckets (3 "
                    "masters, 3 replicas) during a 3-seller sync by two workers and beat",
           checked="replica took over; workers and beat alive; no call over any quota "
                   "(simulator 429 count); mirror = truth; no duplicate/orphan rows",
           result="pass", figures=figures)
