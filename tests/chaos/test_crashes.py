"""Crashes: real worker and beat processes SIGKILLed at random moments of a multi-seller sync.

Three sellers whose data keeps changing are synced by two ``celery worker`` processes and a
``celery beat``, on each broker (Redis; RabbitMQ, a quorum queue). ``rounds`` times
(``--chaos-rounds``; 20 in the full run), at a random moment while a sync runs, a victim is
killed with SIGKILL: a whole worker (main process and its pool child), only a worker's pool
child (the main process notices and re-queues the task), or beat, each kind once in every
three kills; after a random short pause it is restarted. Then the data freezes and the
system must settle by itself.

Checked: the mirror equals the simulator's truth (orders with their items); no duplicate,
orphaned or item-less row; at every kill and at the end no checkpoint is ahead of its rows
(see :func:`tests.chaos.conftest.checkpoints_ahead`); the pages fetched twice (the
simulator's searchOrders calls minus the pages committed in ``sync_runs``) are at most one
per killed worker, the page each had in flight; and ``sync_runs.api_calls`` holds every call
the simulator saw, plus at most one per killed worker (counted, then killed before it left).
"""

from __future__ import annotations

import contextlib
import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import psutil
import pytest

from tests.chaos.conftest import (
    checkpoints_ahead,
    converged,
    integrity_problems,
    register_orders_only,
    search_calls,
    syncing_pids,
)
from tests.chaos.record import record
from tests.conftest import settings_for
from tests.e2e.procs import env_for, start, stop, wait
from tests.integration.helpers import table
from worker.runtime import Runtime

pytestmark = [pytest.mark.chaos, pytest.mark.e2e]

OVERLAP = timedelta(seconds=5)
VICTIMS = ("worker", "worker-child", "beat")


@dataclass
class Fleet:
    """The processes under test, by name; each can be killed and started again."""

    env: dict[str, str]
    logs: Path
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def start(self, name: str) -> None:
        kind = "beat" if name == "beat" else "worker"
        self.procs[name] = start(kind, self.env, self.logs / f"{name}.log")

    def kill(self, name: str, child_only: bool) -> list[int]:
        """SIGKILL ``name``'s process group, or only its pool children; the pids killed."""
        proc = self.procs[name]
        if child_only:
            children = psutil.Process(proc.pid).children() if proc.poll() is None else []
            for child in children:
                child.kill()
            return [c.pid for c in children]
        pids = _group(proc.pid)
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        return pids

    def stop(self) -> None:
        """As an orchestrator stops a container: SIGTERM to the main process only, whose warm
        shutdown lets a running sync finish and record its run (a SIGTERM to the whole group
        also ended the pool child mid-run, leaving a run ``running`` that no later sync would
        reap); what has not ended 30 s later is killed with its group."""
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.terminate()
        for proc in self.procs.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(30)
        stop(list(self.procs.values()))  # SIGTERM, then SIGKILL, to whatever is left


def _group(pid: int) -> list[int]:
    try:
        parent = psutil.Process(pid)
        return [pid, *(c.pid for c in parent.children(recursive=True))]
    except psutil.NoSuchProcess:
        return []


def _pages(rt: Runtime) -> int:
    return int(table(rt, "SELECT coalesce(sum(pages), 0) FROM sync_runs")[0][0])


def _victim_kinds(rng: random.Random, rounds: int) -> list[str]:
    """Every kind once in each run of three kills, in a random order."""
    kinds: list[str] = []
    while len(kinds) < rounds:
        kinds += rng.sample(VICTIMS, len(VICTIMS))
    return kinds[:rounds]


def _pick_victim(kind: str, rng: random.Random, fleet: Fleet, rt: Runtime) -> str:
    """The process to kill. A worker victim is preferably one that is syncing right now:
    a kill between two syncs proves little."""
    if kind == "beat":
        return "beat"
    syncing = syncing_pids(rt)
    busy = [n for n in ("w1", "w2") if fleet.procs[n].poll() is None
            and syncing & set(_group(fleet.procs[n].pid))]
    return rng.choice(busy or ["w1", "w2"])


def test_random_sigkills_of_workers_and_beat_lose_nothing(start_sim, clean, tmp_path,
                                                          rounds, seed, broker_url):
    rng = random.Random(seed)
    # searchOrders: 0.0056/s x 200 = 1.1 pages/s per seller after a burst of 20: 300 orders
    # in pages of 10 over 5 windows of a week, then, with 4 changes a second per seller,
    # incremental syncs of a few pages each, almost back to back
    sim = start_sim(sellers=3, orders_per_seller=300, time_scale=200, seed=seed % 1000 + 1,
                    changes_per_minute=240)
    settings = settings_for(clean, sim, orders_page_size=10, orders_max_window_hours=24 * 7,
                            orders_overlap_seconds=OVERLAP.total_seconds(),
                            broker_url=broker_url)
    rt = Runtime(settings)
    ids = register_orders_only(rt, sim)
    env = env_for(settings, SPSYNC_ORDERS_INTERVAL_SECONDS="1",
                  SPSYNC_ORDERS_OVERLAP_SECONDS=str(OVERLAP.total_seconds()))
    fleet = Fleet(env, tmp_path)
    for name in ("beat", "w1", "w2"):
        fleet.start(name)
    kills: list[dict[str, Any]] = []
    ahead: list[str] = []
    started = time.monotonic()
    try:
        wait(lambda: _pages(rt) >= 3, 90, "the first pages")
        for kind in _victim_kinds(rng, rounds):
            time.sleep(rng.uniform(0.3, 3.0))
            with contextlib.suppress(AssertionError):  # a moment with a sync running
                wait(lambda: syncing_pids(rt), 5, "a running sync", every=0.05)
            time.sleep(rng.uniform(0.0, 0.5))
            name = _pick_victim(kind, rng, fleet, rt)
            syncing = syncing_pids(rt)
            pids = fleet.kill(name, child_only=kind == "worker-child")
            kills.append({"victim": kind, "name": name, "mid_sync": bool(syncing & set(pids))})
            ahead += checkpoints_ahead(rt, sim, ids, OVERLAP)  # while the victim is down
            time.sleep(rng.uniform(0.1, 1.5))
            if kind != "worker-child":  # a pool child is replaced by its worker itself
                fleet.start(name)
        chaos_seconds = time.monotonic() - started
        sim.client.control(changes_per_minute=0)
        wait(lambda: converged(rt, sim, ids), 120,
             "the mirror to equal the simulator's truth", every=1.0)
        settle_seconds = time.monotonic() - started - chaos_seconds
    finally:
        fleet.stop()

    ahead += checkpoints_ahead(rt, sim, ids, OVERLAP)
    worker_kills = sum(k["victim"] != "beat" for k in kills)
    calls, pages = search_calls(sim), _pages(rt)
    recorded = int(table(rt, "SELECT coalesce(sum(api_calls), 0) FROM sync_runs")[0][0])
    throttled = sum(int(b["throttled"]) for b in sim.client.stats()["buckets"])
    lost = table(rt, "SELECT count(*) FROM sync_runs WHERE error_type = 'WorkerLost'")[0][0]
    figures = {
        "seed": seed, "rounds": rounds, "kills": len(kills), "worker_kills": worker_kills,
        "kills_mid_sync": sum(k["mid_sync"] for k in kills),
        "by_victim": {v: sum(k["victim"] == v for k in kills) for v in VICTIMS},
        "searchOrders_calls": calls, "pages_committed": pages,
        "pages_fetched_twice": calls - pages, "api_calls_recorded": recorded,
        "throttled": throttled,
        "runs_reaped_as_worker_lost": lost, "chaos_seconds": round(chaos_seconds, 1),
        "settle_seconds": round(settle_seconds, 1),
    }
    print(f"\ncrashes: {figures}")
    assert converged(rt, sim, ids)
    assert ahead == [], ahead[:5]
    problems = integrity_problems(rt)
    assert not any(problems.values()), problems
    assert calls - pages <= worker_kills, figures
    assert 0 <= recorded - calls <= worker_kills, figures  # before: calls in flight lost
    assert throttled == 0, figures
    scenario = "Crashes on RabbitMQ" if broker_url else "Crashes"
    record(scenario, injected=f"{len(kills)} SIGKILLs of workers, pool children and beat at "
                               "random moments of a 3-seller sync with changing data",
           checked="mirror = truth; no duplicate/orphan rows; no checkpoint ahead of its "
                   "rows; pages fetched twice <= worker kills; every call in sync_runs",
           result="pass", figures=figures)
